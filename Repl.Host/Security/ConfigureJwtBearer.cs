using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;

namespace Repl.Host.Security;

/// <summary>
/// Configures Repl's JwtBearer schemes from <see cref="AuthOptions"/>: the key settings, issuer, audience, clock skew and
/// expiry rule, claims kept as the token names them, the <c>Bearer realm="repl"</c> challenge and
/// <see cref="ReplJwtBearerEvents"/>.
/// </summary>
/// <remarks>
/// Runs after ASP.NET Core's own binding of <c>Authentication:Schemes:&lt;name&gt;</c>, and adds to what that set (keys,
/// issuers, audiences) rather than replacing it, so a scheme can be configured the standard way, Repl's way, or both.
/// </remarks>
internal sealed class ConfigureJwtBearer(IOptions<AuthOptions> options, JwksConfigurationManager? jwks = null) : IConfigureNamedOptions<JwtBearerOptions>
{
    private readonly AuthOptions _auth = options.Value;

    public void Configure(JwtBearerOptions options) => Configure(Options.DefaultName, options);

    /// <exception cref="InvalidOperationException">A key setting is unusable (the node stops at start).</exception>
    public void Configure(string? name, JwtBearerOptions options)
    {
        if (name != _auth.SchemeName) return;
        // Claims keep their JWT names ("sub", "repl.publish"), not the WS-Federation URIs of the inbound map.
        options.MapInboundClaims = false;
        options.Challenge = "Bearer realm=\"repl\"";
        options.EventsType = typeof(ReplJwtBearerEvents);
        var parameters = options.TokenValidationParameters;
        parameters.ClockSkew = _auth.ClockSkew;
        parameters.ValidateLifetime = true;
        parameters.RequireExpirationTime = _auth.RequireExpiry;
        parameters.RequireSignedTokens = true;
        if (name == AuthOptions.DefaultScheme && SigningKeys.Configured(_auth))
        {
            var (keys, algorithms) = SigningKeys.Read(_auth);
            // Restrict algorithms to the key kinds only when Repl's settings are the only keys (see SigningKeys).
            if (parameters.IssuerSigningKeys?.Any() != true) parameters.ValidAlgorithms = algorithms;
            parameters.IssuerSigningKeys = [.. parameters.IssuerSigningKeys ?? [], .. keys];
            if (jwks is not null) options.ConfigurationManager = jwks;
        }
        if (!string.IsNullOrEmpty(_auth.Issuer)) parameters.ValidIssuer = _auth.Issuer;
        if (!string.IsNullOrEmpty(_auth.Audience)) parameters.ValidAudience = _auth.Audience;
        // An identity provider's discovery document (Authority) brings the issuer; otherwise validate only what is configured.
        if (string.IsNullOrEmpty(options.Authority) && string.IsNullOrEmpty(options.MetadataAddress))
        {
            parameters.ValidateIssuer = !string.IsNullOrEmpty(parameters.ValidIssuer) || parameters.ValidIssuers?.Any() == true;
            parameters.ValidateAudience = !string.IsNullOrEmpty(parameters.ValidAudience) || parameters.ValidAudiences?.Any() == true || !string.IsNullOrEmpty(options.Audience);
        }
    }
}
