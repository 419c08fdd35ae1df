using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using IPNetwork = System.Net.IPNetwork;

namespace Repl.Host.Security;

/// <summary>
/// Decides the <see cref="MetricsRequirement"/>: with auth on, <c>/metrics</c> answers an admin token, a scraper that sends
/// <c>Authorization: Bearer &lt;Auth:MetricsToken&gt;</c>, or a client address inside <c>Auth:MetricsAllow</c>.
/// </summary>
/// <remarks>
/// Prometheus scrapes with a static bearer token or from a known network; it cannot mint short-lived JWTs. The scrape
/// token is not a JWT: the bearer scheme is told to skip it (<see cref="IsScrapeToken"/>), so each scrape does not log a
/// failed validation.
/// </remarks>
internal sealed class MetricsRequirementHandler : AuthorizationHandler<MetricsRequirement>
{
    private readonly AuthOptions _auth;
    private readonly byte[]? _token;
    private readonly IPNetwork[] _allowed;

    /// <exception cref="InvalidOperationException">An <c>Auth:MetricsAllow</c> entry is neither an address nor a network.</exception>
    public MetricsRequirementHandler(IOptions<AuthOptions> options)
    {
        _auth = options.Value;
        _token = string.IsNullOrEmpty(_auth.MetricsToken) ? null : Encoding.UTF8.GetBytes(_auth.MetricsToken);
        _allowed = AddressList.Parse(_auth.MetricsAllow, "Auth:MetricsAllow");
    }

    /// <summary>Whether a bearer token is the configured scrape token (compared in constant time).</summary>
    public bool IsScrapeToken(string token) =>
        _token is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), _token);

    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, MetricsRequirement requirement)
    {
        if (!_auth.Enabled || (context.Resource is HttpContext request && (AddressList.Contains(_allowed, request.Connection.RemoteIpAddress) || SendsScrapeToken(request))))
        {
            context.Succeed(requirement);
        }
        else if (context.User.Identity?.IsAuthenticated == true)
        {
            if (Grants.From(context.User).Admin) context.Succeed(requirement);
            else context.Fail(new AuthorizationFailureReason(this,
                $"/metrics needs a token with \"{Grants.AdminClaim}\": true, the scrape token (Auth:MetricsToken) or an address in Auth:MetricsAllow"));
        }
        return Task.CompletedTask;
    }

    private bool SendsScrapeToken(HttpContext request)
    {
        var header = request.Request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && IsScrapeToken(header[7..].Trim());
    }

}
