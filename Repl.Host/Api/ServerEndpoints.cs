using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Topics;
using Repl.Host.Contract;
using Repl.Host.Hooks;
using Repl.Host.Metrics;
using Repl.Host.Node;
using Repl.Host.Security;

namespace Repl.Host.Api;

/// <summary>
/// The server API a backend calls: broadcast one message to many topics, disconnect a user, take a client off a topic.
/// Admin-only when auth is on.
/// </summary>
internal sealed class ServerEndpoints(ReplNode node, TopicRegistry registry, LimitsOptions limits, TimeProvider time, ReplTracing tracing, PublishHook? publishHook)
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var services = routes.ServiceProvider;
        var api = new ServerEndpoints(services.GetRequiredService<ReplNode>(), services.GetRequiredService<TopicRegistry>(), services.GetRequiredService<LimitsOptions>(),
            services.GetRequiredService<TimeProvider>(), services.GetRequiredService<ReplTracing>(), services.GetService<PublishHook>());
        routes.MapPost("/broadcast", (Delegate)api.BroadcastAsync).RequireAuthorization(ReplPolicies.Admin).WithMetadata(TrafficMetadata.Publish);
    }

    /// <summary>One message to every topic named, in one log write: all committed, or none (404 when a topic does not exist).</summary>
    private async Task<IResult> BroadcastAsync(HttpContext context)
    {
        var (body, readError) = await PublishInput.ReadBodyAsync(context, limits);
        if (readError is not null) return readError;
        if (PublishInput.ParseBroadcast(body, time.GetUtcNow(), limits.MaxBroadcastTopics, out var parseError) is not { } commands) return parseError!;
        foreach (var command in commands)
        {
            if (TopicEndpoints.Lookup(command.Topic, registry, out _) is { } missing) return missing;
        }
        if (TooLarge(commands) is { } tooLarge) return tooLarge;
        if (publishHook is not null)
        {
            if (await publishHook.AskBroadcastAsync(context, commands) is { } refused) return refused;
            // The hook may have made the message longer.
            if (TooLarge(commands) is { } rewrittenTooLarge) return rewrittenTooLarge;
        }
        long[] positions;
        using (var activity = tracing.StartPublish(commands[0].Topic, commands.Length))
        {
            if (activity is not null)
            {
                for (int i = 0; i < commands.Length; i++) commands[i] = commands[i] with { TraceParent = activity.Id };
            }
            positions = await node.BroadcastAsync(commands);
            if (activity is not null)
            {
                if (positions[0] == 0) ReplTracing.Failed(activity, "a topic was deleted before the commit");
                else ReplTracing.Committed(activity, positions.Min(), positions.Max());
            }
        }
        // All or nothing: one topic gone at the cut, and none was committed.
        if (positions[0] == 0)
        {
            string gone = commands.Select(command => command.Topic).FirstOrDefault(topic => !registry.TryGet(topic, out _)) ?? commands[0].Topic;
            return ApiError.Of(StatusCodes.Status404NotFound, "topic not found", $"topic '{gone}' does not exist (it was deleted before the broadcast was committed); nothing was published");
        }
        var ids = positions.Select(position => position.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return TypedResults.Json(new BroadcastBody("message broadcast", ids), ApiJsonContext.Default.BroadcastBody, statusCode: StatusCodes.Status201Created);
    }

    /// <summary>A broadcast is one log write: 413 when its messages together are over what one write holds.</summary>
    private static IResult? TooLarge(PublishCommand[] commands)
    {
        long bytes = LogWriteLimits.Bytes(commands);
        if (bytes <= LogWriteLimits.MaxBytes) return null;
        return ApiError.Of(StatusCodes.Status413PayloadTooLarge, "broadcast too large",
            $"its message on {commands.Length} topics takes {bytes} bytes in the log, over the {LogWriteLimits.MaxBytes} bytes of one log write; "
            + "send a shorter message or fewer topics");
    }
}
