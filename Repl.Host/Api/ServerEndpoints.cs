using System.Text.Json;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Sequencer;
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
/// <remarks>
/// Disconnect and unsubscribe reach every broker (<see cref="ServerApiActor"/>): a stream lives on the node its client
/// connected to, and the call may come to any.
/// </remarks>
internal sealed class ServerEndpoints(ReplNode node, TopicRegistry registry, LimitsOptions limits, TimeProvider time, ReplTracing tracing, PublishHook? publishHook)
{
    /// <summary>Longest <c>"for"</c> of a disconnect: longer refusals belong in the backend's tokens or subscribe hook.</summary>
    internal const int MaxRefusalSeconds = 86_400;

    /// <summary>Longest user and reason of a disconnect, in characters.</summary>
    internal const int MaxText = 1_000;

    public static void Map(IEndpointRouteBuilder routes)
    {
        var services = routes.ServiceProvider;
        var api = new ServerEndpoints(services.GetRequiredService<ReplNode>(), services.GetRequiredService<TopicRegistry>(), services.GetRequiredService<LimitsOptions>(),
            services.GetRequiredService<TimeProvider>(), services.GetRequiredService<ReplTracing>(), services.GetService<PublishHook>());
        routes.MapPost("/broadcast", (Delegate)api.BroadcastAsync).RequireAuthorization(ReplPolicies.Admin).WithMetadata(TrafficMetadata.Publish);
        routes.MapPost("/disconnect", (Delegate)api.DisconnectAsync).RequireAuthorization(ReplPolicies.Admin);
        routes.MapDelete("/topics/{topic}/clients/{client}", api.UnsubscribeAsync).RequireAuthorization(ReplPolicies.Admin);
    }

    /// <summary>One message to every topic named, in one log write: all committed, or none (404 when a topic does not exist).</summary>
    private async Task<IResult> BroadcastAsync(HttpContext context)
    {
        var (body, readError) = await PublishInput.ReadBodyAsync(context, limits);
        if (readError is not null) return readError;
        if (PublishInput.ParseBroadcast(body, time.GetUtcNow(), limits.MaxBroadcastTopics, out var parseError) is not { } commands) return parseError!;
        var hubs = new TopicHub[commands.Length];
        for (int i = 0; i < commands.Length; i++)
        {
            if (TopicEndpoints.Lookup(commands[i].Topic, registry, out hubs[i]) is { } missing) return missing;
            if (TopicEndpoints.OverSize(hubs[i], [commands[i]], numbered: false) is { } topicLimit) return topicLimit;
        }
        if (TooLarge(commands) is { } tooLarge) return tooLarge;
        if (publishHook is not null)
        {
            if (await publishHook.AskBroadcastAsync(context, commands) is { } refused) return refused;
            // The hook may have made the message longer.
            if (OverSize(hubs, commands) is { } rewrittenTooLarge) return rewrittenTooLarge;
        }
        long[] positions;
        using (var activity = tracing.StartPublish(commands[0].Topic, commands.Length))
        {
            if (activity is not null)
            {
                for (int i = 0; i < commands.Length; i++) commands[i] = commands[i] with { TraceParent = activity.Id };
            }
            positions = (await node.BroadcastAsync(commands)).Positions;
            if (activity is not null)
            {
                if (positions[0] == 0) ReplTracing.Failed(activity, "a topic was deleted before the commit");
                else if (positions[0] == SequencerProtocol.OverRate) ReplTracing.Failed(activity, "over a topic's publishRate");
                else ReplTracing.Committed(activity, positions.Min(), positions.Max());
            }
        }
        // All or nothing: one topic gone at the cut, and none was committed.
        if (positions[0] == 0)
        {
            string gone = commands.Select(command => command.Topic).FirstOrDefault(topic => !registry.TryGet(topic, out _)) ?? commands[0].Topic;
            return ApiError.Of(StatusCodes.Status404NotFound, "topic not found", $"topic '{gone}' does not exist (it was deleted before the broadcast was committed); nothing was published");
        }
        // Over a topic's publishRate at the cut: refused whole, like a missing topic.
        if (positions[0] == SequencerProtocol.OverRate)
        {
            var limited = commands.Select(command => registry.TryGet(command.Topic, out var hub) ? hub : null).FirstOrDefault(hub => hub?.Settings.PublishRate is not null);
            return TopicEndpoints.OverRate(context, limited?.Name ?? commands[0].Topic, limited);
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

    /// <summary>After a publish hook's rewrite: 413 when the message is over a topic's <c>maxMessageBytes</c>, or the whole call over one log write.</summary>
    private static IResult? OverSize(TopicHub[] hubs, PublishCommand[] commands)
    {
        for (int i = 0; i < commands.Length; i++)
        {
            if (TopicEndpoints.OverSize(hubs[i], [commands[i]], numbered: false) is { } topicLimit) return topicLimit;
        }
        return TooLarge(commands);
    }

    /// <summary>Ends every stream of a user on every broker, each after <c>event: disconnect</c>; with <c>"for"</c>, refuses the user's new streams that long.</summary>
    private async Task<IResult> DisconnectAsync(HttpContext context)
    {
        var (body, readError) = await PublishInput.ReadBodyAsync(context, limits);
        if (readError is not null) return readError;
        DisconnectRequest? request;
        try
        {
            var reader = new Utf8JsonReader(body);
            request = JsonSerializer.Deserialize(ref reader, ApiJsonContext.Default.DisconnectRequest);
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            return ApiError.BadRequest("malformed JSON", exception.Message);
        }
        const string Shape = "send {\"user\":\"...\",\"reason\":\"...\",\"for\":60} (for: seconds, optional)";
        if (request is null) return ApiError.BadRequest("invalid disconnect", Shape);
        if (request.User.ValueKind != JsonValueKind.String || request.User.GetString() is not { Length: > 0 and <= MaxText } user)
            return ApiError.BadRequest("invalid user", $"\"user\" must be a string of 1–{MaxText} characters (the token's sub, or the user a subscribe hook set); {Shape}");
        if (request.Reason.ValueKind != JsonValueKind.String || request.Reason.GetString() is not { Length: <= MaxText } reason)
            return ApiError.BadRequest("invalid reason", $"\"reason\" must be a string of at most {MaxText} characters; the streams say it in event: disconnect; {Shape}");
        long seconds = 0;
        if (request.For.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null)
            && (request.For.ValueKind != JsonValueKind.Number || !request.For.TryGetInt64(out seconds) || seconds is < 0 or > MaxRefusalSeconds))
        {
            return ApiError.BadRequest("invalid for", $"\"for\" must be a whole number of seconds from 0 to {MaxRefusalSeconds}: how long the user's new streams are refused");
        }
        long untilMs = seconds == 0 ? 0 : time.GetUtcNow().AddSeconds(seconds).ToUnixTimeMilliseconds();
        var reached = await node.DisconnectAsync(user, reason, untilMs);
        return TypedResults.Json(new ReachedBody("user disconnected", reached.Streams, reached.Nodes, reached.Asked), ApiJsonContext.Default.ReachedBody);
    }

    /// <summary>Takes one client (a stream, by its request id) off one topic, on whichever broker holds it.</summary>
    private async Task<IResult> UnsubscribeAsync(string topic, string client)
    {
        if (TopicEndpoints.Lookup(topic, registry, out _) is { } error) return error;
        if (RequestIdMiddleware.Accept(client) is null)
            return ApiError.BadRequest("invalid client", $"'{client}' is not a client id: a stream's id is its request id (X-Request-Id), 1–128 letters, digits and -_.:");
        var reached = await node.UnsubscribeAsync(client, topic);
        if (reached.Streams == 0)
        {
            return ApiError.Of(StatusCodes.Status404NotFound, "client not found",
                $"no stream '{client}' follows topic '{topic}' on the {reached.Nodes} of {reached.Asked} brokers that answered");
        }
        return TypedResults.Json(new ReachedBody("client unsubscribed", reached.Streams, reached.Nodes, reached.Asked), ApiJsonContext.Default.ReachedBody);
    }
}
