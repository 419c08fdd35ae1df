using Microsoft.AspNetCore.Authorization;

namespace Repl.Host.Security;

/// <summary>
/// The authorization policies endpoints declare (<c>.RequireAuthorization(ReplPolicies.Publish)</c>): what a route needs
/// is read where the route is mapped, not from its path.
/// </summary>
/// <remarks>
/// A route mapped with no policy and no <c>AllowAnonymous</c> falls to <see cref="AuthorizationOptions.FallbackPolicy"/>,
/// which needs admin: a new route is closed until it says otherwise. With auth off every policy succeeds.
/// </remarks>
internal static class ReplPolicies
{
    /// <summary>Publish on the route's <c>{topic}</c> (publish, batch, delete).</summary>
    public const string Publish = "repl.publish";

    /// <summary>Publish on the topic named by the body (<c>POST /topics {"name": …}</c>).</summary>
    public const string Create = "repl.create";

    /// <summary>Subscribe on the route's <c>{topic}</c> or every <c>?topic=</c>; with none named, any caller that may subscribe.</summary>
    public const string Subscribe = "repl.subscribe";

    /// <summary>A token with <c>repl.admin: true</c>.</summary>
    public const string Admin = "repl.admin";

    /// <summary>Admin, the scrape token or a listed network (<see cref="MetricsRequirement"/>).</summary>
    public const string Metrics = "repl.metrics";

    public static void Add(AuthorizationOptions options)
    {
        options.AddPolicy(Publish, policy => policy.AddRequirements(new TopicRequirement(Permission.Publish)));
        options.AddPolicy(Create, policy => policy.AddRequirements(new TopicRequirement(Permission.Publish, TopicSource.Body)));
        options.AddPolicy(Subscribe, policy => policy.AddRequirements(new TopicRequirement(Permission.Subscribe)));
        options.AddPolicy(Admin, policy => policy.AddRequirements(new TopicRequirement(Permission.Admin)));
        options.AddPolicy(Metrics, policy => policy.AddRequirements(MetricsRequirement.Instance));
        options.FallbackPolicy = options.GetPolicy(Admin);
    }
}
