using System.Security.Claims;

namespace Repl.Host.Security;

/// <summary>What an authenticated caller's claims allow: topic patterns to publish and subscribe to, and admin.</summary>
/// <remarks>
/// A pattern is an exact topic name, a prefix ending in <c>*</c> (<c>comments:*</c>), or <c>*</c> alone for every
/// topic. Claims may be JSON arrays (one claim per element) or one string separated by spaces or commas. The claims
/// are read from the principal whatever scheme authenticated it (<c>Auth:Scheme</c>).
/// </remarks>
internal sealed class Grants
{
    public const string PublishClaim = "repl.publish";
    public const string SubscribeClaim = "repl.subscribe";
    public const string AdminClaim = "repl.admin";

    private Grants(bool admin, string[] publish, string[] subscribe)
    {
        Admin = admin;
        Publish = publish;
        Subscribe = subscribe;
    }

    public bool Admin { get; }

    public string[] Publish { get; }

    public string[] Subscribe { get; }

    public static Grants From(ClaimsPrincipal user) =>
        new(user.FindAll(AdminClaim).Any(claim => string.Equals(claim.Value, "true", StringComparison.OrdinalIgnoreCase)),
            Patterns(user, PublishClaim),
            Patterns(user, SubscribeClaim));

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

    private static string[] Patterns(ClaimsPrincipal user, string type) =>
        [.. user.FindAll(type).SelectMany(claim => claim.Value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];
}
