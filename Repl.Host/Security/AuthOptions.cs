namespace Repl.Host.Security;

/// <summary>Token authorization (configuration section <c>Auth</c>). Off unless a key is configured.</summary>
/// <remarks>See <c>Repl.Host/Security/README.md</c> for what each route needs.</remarks>
public sealed class AuthOptions
{
    /// <summary>HS256/384/512 shared secret (UTF-8, at least 32 bytes). Turns authorization on.</summary>
    public string? SigningKey { get; set; }

    /// <summary>PEM file with one or more public keys (RSA or EC: RS*, PS*, ES*). Turns authorization on.</summary>
    public string? KeyFile { get; set; }

    /// <summary>JSON Web Key Set file. Turns authorization on.</summary>
    public string? JwksFile { get; set; }

    /// <summary>URL of an identity provider's JSON Web Key Set, kept fresh (<see cref="JwksSource"/>). Turns authorization on.</summary>
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

    /// <summary><c>/metrics</c> needs a token with <c>repl.admin: true</c>.</summary>
    public bool MetricsRequiresAdmin { get; set; }

    public bool Enabled => !string.IsNullOrEmpty(SigningKey) || !string.IsNullOrEmpty(KeyFile) || !string.IsNullOrEmpty(JwksFile) || !string.IsNullOrEmpty(JwksUrl);
}
