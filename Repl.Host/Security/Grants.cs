using System.Security.Claims;

namespace Repl.Host.Security;

/// <summary>What a validated token allows: topic patterns to publish and subscribe to, and admin.</summary>
/// <remarks>
/// A pattern is an exact topic name, a prefix ending in <c>*</c> (<c>comments:*</c>), or <c>*</c> alone for every
/// topic. Claims may be JSON arrays or one string separated by spaces or commas.
/// </remarks>
internal sealed class Grants
{
    public const string PublishClaim = "repl.publish";
    public const string SubscribeClaim = "repl.subscribe";
    public const string AdminClaim = "repl.admin";

    private Grants(string? subject, bool admin, string[] publish, string[] subscribe, DateTimeOffset? expires)
    {
        Subject = subject;
        Admin = admin;
        Publish = publish;
        Subscribe = subscribe;
        Expires = expires;
    }

    public string? Subject { get; }

    public bool Admin { get; }

    public string[] Publish { get; }

    public string[] Subscribe { get; }

    /// <summary>The token's <c>exp</c>, or null when it has none.</summary>
    public DateTimeOffset? Expires { get; }

    public static Grants From(ClaimsIdentity identity, DateTimeOffset? expires) =>
        new(identity.FindFirst("sub")?.Value,
            identity.FindAll(AdminClaim).Any(claim => string.Equals(claim.Value, "true", StringComparison.OrdinalIgnoreCase)),
            Patterns(identity, PublishClaim),
            Patterns(identity, SubscribeClaim),
            expires);

    public bool Allows(Permission permission, string topic) =>
        Admin || permission switch
        {
            Permission.Publish => Matches(Publish, topic),
            Permission.Subscribe => Matches(Subscribe, topic),
            _ => false,
        };

    internal static bool Matches(string[] patterns, string topic)
    {
        foreach (var pattern in patterns)
        {
            if (pattern.EndsWith('*') ? topic.StartsWith(pattern.AsSpan(0, pattern.Length - 1), StringComparison.Ordinal) : pattern == topic) return true;
        }
        return false;
    }

    private static string[] Patterns(ClaimsIdentity identity, string type) =>
        [.. identity.FindAll(type).SelectMany(claim => claim.Value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];
}

/// <summary>What a route needs from a token.</summary>
internal enum Permission
{
    None,
    Subscribe,
    Publish,
    Admin,
}
