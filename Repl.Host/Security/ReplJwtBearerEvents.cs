using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Repl.Host.Security;

/// <summary>
/// JwtBearer's events for Repl's schemes: where the token is found (header, <c>?access_token=</c>, cookie), the scrape
/// token skipped, over-long tokens refused, and a key set fetched again for a token naming an unknown key id.
/// </summary>
internal sealed class ReplJwtBearerEvents(IOptions<AuthOptions> options, MetricsRequirementHandler metrics, JwksConfigurationManager? jwks = null) : JwtBearerEvents
{
    /// <summary>Tokens longer than this are refused before parsing (a real token is well under 4 KB).</summary>
    internal const int MaxTokenLength = 16 * 1024;

    private static readonly JsonWebTokenHandler Reader = new();
    private readonly AuthOptions _auth = options.Value;

    public override async Task MessageReceived(MessageReceivedContext context)
    {
        // EventSource cannot set headers: streams send the token in the query or the cookie.
        if (Find(context.Request) is not { } token || metrics.IsScrapeToken(token))
        {
            // No token, or the metrics scrape token (not a JWT: MetricsRequirementHandler checks it): nothing to validate.
            context.NoResult();
            return;
        }
        if (token.Length > MaxTokenLength)
        {
            context.Fail("the token is too long");
            return;
        }
        context.Token = token;
        if (jwks is not null && context.Scheme.Name == AuthOptions.DefaultScheme && KeyId(token) is { } keyId)
        {
            // The provider may have rotated its keys since the last fetch: fetch before validating, so this token passes.
            await jwks.RefreshForUnknownKeyAsync(keyId, context.Options.TokenValidationParameters.IssuerSigningKeys);
        }
    }

    /// <summary>The token from <c>Authorization: Bearer</c>, <c>?access_token=</c> or the cookie, in that order.</summary>
    private string? Find(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header[7..].Trim() is { Length: > 0 } bearer) return bearer;
        if (request.Query["access_token"].ToString() is { Length: > 0 } query) return query;
        if (request.Cookies[_auth.Cookie] is { Length: > 0 } cookie) return cookie;
        return null;
    }

    private static string? KeyId(string token) =>
        Reader.CanReadToken(token) && Reader.ReadJsonWebToken(token).Kid is { Length: > 0 } kid ? kid : null;
}
