using Microsoft.AspNetCore.Authorization;

namespace Repl.Host.Security;

/// <summary>
/// An endpoint's authorization requirement: <see cref="Permission"/> on every topic the request names (see
/// <see cref="TopicSource"/>), or admin. Declared on endpoints through the policies in <see cref="ReplPolicies"/>.
/// </summary>
internal sealed class TopicRequirement(Permission permission, TopicSource source = TopicSource.RouteOrQuery) : IAuthorizationRequirement
{
    public Permission Permission { get; } = permission;

    public TopicSource Source { get; } = source;

    /// <summary>The word for the permission in refusals: <c>publish</c>, <c>subscribe</c>, <c>admin</c>.</summary>
    public string Name => Permission switch
    {
        Permission.Publish => "publish",
        Permission.Subscribe => "subscribe",
        _ => "admin",
    };
}
