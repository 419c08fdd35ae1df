namespace Repl.Host.Security;

/// <summary>Token authorization (configuration section <c>Auth</c>). Off unless a key or <see cref="Scheme"/> is configured.</summary>
/// <remarks>
/// Tokens are checked by ASP.NET Core's JwtBearer authentication; what each route needs is declared on the route as an
/// authorization policy (<see cref="ReplPolicies"/>). See <c>Repl.Host/Security/README.md</c>.
/// </remarks>
public sealed class AuthOptions
{
    /// <summary>HS256/384/512 shared secret (UTF-8, at least 32 bytes). Turns authorization on.</summary>
    public string? SigningKey { get; set; }

    /// <summary>PEM file with one or more public keys (RSA or EC: RS*, PS*, ES*). Turns authorization on.</summary>
    public string? KeyFile { get; set; }

    /// <summary>JSON Web Key Set file. Turns authorization on.</summary>
    public string? JwksFile { get; set; }

    /// <summary>URL of an identity provider's JSON Web Key Set, kept fresh (<see cref="JwksConfigurationManager"/>). Turns authorization on.</summary>
    public string? JwksUrl { get; set; }

    /// <summary>How often the <see cref="JwksUrl"/> set is fetched again (a token naming an unknown key also triggers a fetch).</summary>
    public TimeSpan JwksRefresh { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>When set, a token's <c>iss</c> must equal it.</summary>
    public string? Issuer { get; set; }

    /// <summary>When set, a token's <c>aud</c> must contain it.</summary>
    public string? Audience { get; set; }

    /// <summary>Streams and history reads without a token are allowed.</summary>
    public bool AnonymousSubscribe { get; set; }

    /// <summary>Publishes (and topic create/delete) without a token are allowed.</summary>
    public bool AnonymousPublish { get; set; }

    /// <summary>Cookie that may carry the token (for EventSource, which cannot set headers).</summary>
    public string Cookie { get; set; } = "repl_token";

    /// <summary>Tolerance on <c>exp</c>/<c>nbf</c> for clocks that disagree.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Tokens without <c>exp</c> are refused.</summary>
    public bool RequireExpiry { get; set; } = true;

    /// <summary>
    /// Static bearer token a metrics scraper may send (<c>Authorization: Bearer …</c>) for <c>/metrics</c> when auth is on;
    /// otherwise <c>/metrics</c> needs an admin token or an address in <see cref="MetricsAllow"/>.
    /// </summary>
    public string? MetricsToken { get; set; }

    /// <summary>Addresses or networks (<c>10.0.0.0/8</c>), comma or space separated, whose clients may read <c>/metrics</c> without a token.</summary>
    public string MetricsAllow { get; set; } = "";

    /// <summary>
    /// The ASP.NET Core authentication scheme that authenticates requests. Default <c>Bearer</c>: JwtBearer with the key
    /// settings above. Another name adds a JwtBearer scheme of that name configured only from the standard section
    /// <c>Authentication:Schemes:&lt;name&gt;</c> (<c>Authority</c>, <c>ValidAudiences</c>, …), and turns authorization on.
    /// </summary>
    public string? Scheme { get; set; }

    /// <summary>The scheme in use: <see cref="Scheme"/>, else <c>Bearer</c>.</summary>
    public string SchemeName => string.IsNullOrEmpty(Scheme) ? DefaultScheme : Scheme;

    /// <summary>Repl's own JwtBearer scheme, which the key settings configure.</summary>
    public const string DefaultScheme = "Bearer";

    /// <summary>Whether authorization is on: a key setting or <see cref="Scheme"/> is set.</summary>
    public bool Enabled => !string.IsNullOrEmpty(SigningKey) || !string.IsNullOrEmpty(KeyFile) || !string.IsNullOrEmpty(JwksFile) || !string.IsNullOrEmpty(JwksUrl)
        || !string.IsNullOrEmpty(Scheme);
}
