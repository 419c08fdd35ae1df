using Repl.Actors.Log;
using Repl.Actors.Sharding;
using Repl.Actors.Topics;
using Repl.Host.Contract;
using Repl.Host.Metrics;
using Repl.Host.Node;
using Repl.Host.Security;

namespace Repl.Host.Api;

/// <summary>
/// Who reads a topic, cluster-wide: <c>GET /topics/{topic}/presence</c> (a page of clients, by client id) and
/// <c>GET /topics/{topic}/presence/stats</c>. Answered by the topic's entity, wherever it runs (<see cref="NodePresence"/>).
/// </summary>
/// <remarks>
/// With auth on both need a subscribe grant on the topic: who may read a topic may see who else reads it. A topic with
/// presence off answers 404 <c>presence off</c>, so a caller tells it apart from an unknown topic.
/// </remarks>
internal sealed class PresenceEndpoints(NodePresence presence, TopicRegistry registry)
{
    /// <summary>Most clients per page (<c>?limit=</c>).</summary>
    public const int MaxPage = 1000;

    /// <summary>Clients per page without <c>?limit=</c>.</summary>
    public const int DefaultPage = 100;

    public static void Map(IEndpointRouteBuilder routes)
    {
        var services = routes.ServiceProvider;
        var api = new PresenceEndpoints(services.GetRequiredService<NodePresence>(), services.GetRequiredService<TopicRegistry>());
        routes.MapGet("/topics/{topic}/presence", api.ListAsync).RequireAuthorization(ReplPolicies.Subscribe);
        routes.MapGet("/topics/{topic}/presence/stats", api.StatsAsync).RequireAuthorization(ReplPolicies.Subscribe);
    }

    private async Task<IResult> ListAsync(string topic, HttpContext context)
    {
        if (Check(topic) is { } error) return error;
        var query = context.Request.Query;
        if (!TopicEndpoints.TryReadLong(query["limit"], DefaultPage, out long limit) || limit < 1 || limit > MaxPage)
            return ApiError.BadRequest("invalid limit", $"'limit' must be a whole number from 1 to {MaxPage}");
        string? after = query["after"].Count > 0 && !string.IsNullOrEmpty(query["after"][0]) ? query["after"][0] : null;
        // Client ids are request ids: a cursor that could not be one is a mistake worth saying.
        if (after is not null && RequestIdMiddleware.Accept(after) is null)
            return ApiError.BadRequest("invalid after", "'after' must be a client id from a page (1–128 characters of letters, digits and -_.:)");
        PresenceProtocol.Page page;
        try
        {
            page = await presence.ListAsync(topic, after, (int)limit);
        }
        catch (LogUnavailableException unavailable)
        {
            return Unavailable(unavailable);
        }
        var clients = page.Clients.Select(client =>
            new PresenceClient(client.Id, client.User, client.Node, DateTimeOffset.FromUnixTimeMilliseconds(client.SinceMs).UtcDateTime)).ToArray();
        return TypedResults.Json(new PresencePage(topic, clients, page.Total), ApiJsonContext.Default.PresencePage);
    }

    private async Task<IResult> StatsAsync(string topic)
    {
        if (Check(topic) is { } error) return error;
        try
        {
            var counts = await presence.StatsAsync(topic);
            return TypedResults.Json(new PresenceStats(topic, counts.Clients, counts.Users), ApiJsonContext.Default.PresenceStats);
        }
        catch (LogUnavailableException unavailable)
        {
            return Unavailable(unavailable);
        }
    }

    private IResult? Check(string topic)
    {
        if (TopicEndpoints.Lookup(topic, registry, out var hub) is { } error) return error;
        return presence.IsOn(hub)
            ? null
            : ApiError.Of(StatusCodes.Status404NotFound, "presence off",
                $"presence is off for topic '{topic}': its clients are not tracked (turn it on for the topic with PATCH /topics/{topic} {{\"presence\":true}}, or for all with Topics:Presence)");
    }

    private static IResult Unavailable(LogUnavailableException unavailable) =>
        ApiError.Of(StatusCodes.Status503ServiceUnavailable, "presence unavailable", unavailable.Message);
}
