using System.Security.Claims;
using Microsoft.AspNetCore.Http.Features.Authentication;

namespace Repl.Host.Contract;

/// <summary>Who a request comes from, and from where, as the routes, the hooks and the limits read it.</summary>
/// <remarks>
/// Read through the authentication feature, not <c>HttpContext.User</c>: with auth off nothing set a user, and that
/// getter makes an empty principal and stores it on the request, ~270 B that an SSE stream holds for its life (and one
/// more allocation per publish).
/// </remarks>
internal static class Caller
{
    /// <summary>The caller's user: the token's <c>sub</c>, or null without a token.</summary>
    public static string? UserOf(HttpContext context) => Authenticated(context)?.FindFirst("sub")?.Value;

    /// <summary>
    /// The client's address, as <c>Proxy:Trusted</c> decides it (the forwarded-headers middleware has run, and nothing
    /// changes it after); null when the transport has none. Each reader says what stands in for none.
    /// </summary>
    public static string? AddressOf(HttpContext context) => context.Connection.RemoteIpAddress?.ToString();

    /// <summary>The caller's principal when a token authenticated it, else null.</summary>
    public static ClaimsPrincipal? Authenticated(HttpContext context) =>
        context.Features.Get<IHttpAuthenticationFeature>()?.User is { Identity.IsAuthenticated: true } user ? user : null;
}
