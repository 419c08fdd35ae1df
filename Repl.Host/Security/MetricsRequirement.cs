using Microsoft.AspNetCore.Authorization;

namespace Repl.Host.Security;

/// <summary><c>/metrics</c>: an admin token, the scrape token (<c>Auth:MetricsToken</c>) or a listed network (<c>Auth:MetricsAllow</c>).</summary>
internal sealed class MetricsRequirement : IAuthorizationRequirement
{
    public static readonly MetricsRequirement Instance = new();
}
