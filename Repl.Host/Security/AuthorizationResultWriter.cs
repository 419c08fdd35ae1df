using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Repl.Host.Contract;
using Repl.Host.Metrics;

namespace Repl.Host.Security;

/// <summary>
/// Turns the authorization middleware's refusals into the API's JSON errors (<c>{"error", "cause"}</c>), whatever the
/// authentication scheme: 401 after the scheme's own challenge (its <c>WWW-Authenticate</c>), 403 with
/// <c>WWW-Authenticate: Bearer error="insufficient_scope"</c> and the requirement's reason as the cause.
/// </summary>
internal sealed class AuthorizationResultWriter(IOptions<AuthOptions> options, ReplMetrics metrics) : IAuthorizationMiddlewareResultHandler
{
    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            await next(context);
            return;
        }
        if (authorizeResult.Challenged)
        {
            metrics.Reject(Rejection.Unauthorized);
            // The result the authentication middleware computed for this request (handlers keep it per request).
            var failure = (await context.AuthenticateAsync()).Failure;
            // JwtBearer answers 401 with "Bearer realm="repl"", and adds error="invalid_token" when a token was refused.
            await context.ChallengeAsync();
            if (context.Response.HasStarted) return;
            if (failure is null)
            {
                await ApiError.WriteAsync(context, StatusCodes.Status401Unauthorized, "unauthorized",
                    $"this route needs a token with {Needs(policy)} rights: send Authorization: Bearer <token>, ?access_token=<token> or the '{options.Value.Cookie}' cookie");
            }
            else
            {
                await ApiError.WriteAsync(context, StatusCodes.Status401Unauthorized, "invalid token", Describe(failure));
            }
            return;
        }
        metrics.Reject(Rejection.Forbidden);
        context.Response.Headers.WWWAuthenticate = "Bearer error=\"insufficient_scope\"";
        string cause = authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault()?.Message ?? "the token does not grant this route";
        await ApiError.WriteAsync(context, StatusCodes.Status403Forbidden, "forbidden", cause);
    }

    private static string Needs(AuthorizationPolicy policy) =>
        policy.Requirements.OfType<TopicRequirement>().FirstOrDefault()?.Name ?? "admin (or the metrics scrape token)";

    /// <summary>Why a token was refused, in words for the client.</summary>
    internal static string Describe(Exception error) => error switch
    {
        SecurityTokenExpiredException expired => $"the token expired at {expired.Expires:O}",
        SecurityTokenNotYetValidException early => $"the token is not valid before {early.NotBefore:O}",
        SecurityTokenNoExpirationException => "the token has no expiry (exp); this node requires one (Auth:RequireExpiry)",
        SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => "the token's signature does not verify with this node's keys",
        SecurityTokenInvalidAlgorithmException => "the token's signing algorithm is not accepted",
        SecurityTokenInvalidIssuerException => "the token's issuer (iss) is not accepted",
        SecurityTokenInvalidAudienceException => "the token's audience (aud) is not accepted",
        SecurityTokenMalformedException or ArgumentException => "the token is not a well-formed JWT",
        // A refusal our own events wrote ("the token is too long").
        AuthenticationFailureException refused => refused.Message,
        _ => "the token is not valid",
    };
}
