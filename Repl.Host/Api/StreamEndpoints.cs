using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Repl.Actors.Messages;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
using Repl.Host.Cluster;
using Repl.Host.Contract;
using Repl.Host.Hooks;
using Repl.Host.Node;
using Repl.Host.Security;
using Repl.Sse;

namespace Repl.Host.Api;

/// <summary>The SSE routes: one topic (<c>/topics/{topic}/sse</c>, as REPL) or several (<c>/sse?topic=a&amp;topic=b</c>).</summary>
internal static class StreamEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        // Found once: with no subscribe hook the routes hold null and a stream's start does no hook work at all.
        var hook = routes.ServiceProvider.GetService<SubscribeHook>();
        routes.MapGet("/topics/{topic}/sse", (string topic, HttpContext context) => StreamAsync(context, [topic], hook))
            .RequireAuthorization(ReplPolicies.Subscribe).WithMetadata(TrafficMetadata.Stream);
        routes.MapGet("/sse", (HttpContext context) => StreamAsync(context, RequestTopics.FromQuery(context.Request), hook))
            .RequireAuthorization(ReplPolicies.Subscribe).WithMetadata(TrafficMetadata.Stream);
    }

    /// <summary>
    /// A stream's request: it lasts as long as the stream, so it is not an async method awaiting the stream, which would
    /// hold its state machine (344 B, every local of the start) for the stream's life. The start is async only while it
    /// awaits (a subscribe hook, a resume check, the head's flush); what runs when the stream ends (hook events,
    /// presence, the cluster's cut-off token) is a small method of its own (<see cref="RunTrackedAsync"/>).
    /// </summary>
    private static Task StreamAsync(HttpContext context, string[] names, SubscribeHook? hook)
    {
        var started = StartAsync(context, names, hook);
        return started.IsCompletedSuccessfully ? started.Result : AwaitedAsync(started);

        static async Task AwaitedAsync(ValueTask<Task> started) => await await started;
    }

    /// <summary>Answers the request with an error, or starts its stream: the task is the answer's, or the stream's.</summary>
    private static async ValueTask<Task> StartAsync(HttpContext context, string[] names, SubscribeHook? hook)
    {
        var services = context.RequestServices;
        var registry = services.GetRequiredService<TopicRegistry>();
        var limits = services.GetRequiredService<LimitsOptions>();
        if (Resolve(context, registry, limits, names, out var topics, out long? cursor, out var epoch, out string? requested) is { } error)
        {
            return error.ExecuteAsync(context);
        }
        var presence = services.GetRequiredService<NodePresence>();
        if (Watching(context.Request, presence, topics, out bool watching) is { } refused)
        {
            return refused.ExecuteAsync(context);
        }
        var expiresAt = StreamExpiry.Of(context);
        string? expiredReason = null;
        if (hook is not null)
        {
            // Decided before anything is written: a refusal or a failure is an ordinary JSON answer, and no stream starts.
            var verdict = await hook.AskAsync(context, [.. topics.Select(topic => topic.Name)]);
            if (verdict.Refusal is not null)
            {
                return verdict.Refusal.ExecuteAsync(context);
            }
            if (verdict.Topics is { } allowed) topics = [.. topics.Where(topic => allowed.Contains(topic.Name, StringComparer.Ordinal))];
            if (verdict.User is not null) context.Items[SubscribeHook.UserItem] = verdict.User;
            // The earlier of the token's expiry and the hook's.
            if (verdict.ExpiresAt is { } ends && !(expiresAt <= ends))
            {
                expiresAt = ends;
                expiredReason = "the time the subscribe hook allowed this stream (expiresIn) is over; reconnect to be asked again";
            }
        }
        // The stream's client id (StreamClient: unique in the cluster, the subscribe hook's "client"); its user is the one
        // the subscribe hook set, else the token's. The server API and presence find streams by both.
        string client = StreamClient.IdOf(context);
        string? user = context.Items[SubscribeHook.UserItem] as string ?? Caller.UserOf(context);
        // A user disconnected with "for" (POST /disconnect) is refused until then: EventSource would reconnect at once.
        if (services.GetRequiredService<RefusedUsers>().Of(user) is { } refusal)
        {
            long seconds = Math.Max(1, (refusal.UntilMs - services.GetRequiredService<TimeProvider>().GetUtcNow().ToUnixTimeMilliseconds() + 999) / 1000);
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return ApiError.Of(StatusCodes.Status403Forbidden, "user disconnected",
                $"the server disconnected user '{user}' ({refusal.Reason}) and refuses their new streams for {seconds} s more").ExecuteAsync(context);
        }
        // A resume point this log never issued is said, not swallowed: the stream starts over from the log's beginning.
        ResumeReset? reset = null;
        if (cursor is { } position)
        {
            if (epoch is { } other && other != registry.Epoch)
            {
                reset = new ResumeReset(requested!, $"this id is from another log (epoch {other}); this log (epoch {registry.Epoch}) starts over from its beginning");
            }
            else if (await services.GetRequiredService<ReplNode>().IsAheadOfLogAsync(position, context.RequestAborted))
            {
                reset = new ResumeReset(requested!, $"position {position} is ahead of this log's head: this log never issued it (a wiped or replaced log?); it starts over from its beginning");
            }
            if (reset is not null) cursor = 0;
        }
        // Open means subscribed: the start is fixed before the head leaves, so whatever commits after the client sees
        // the head (EventSource's `open`) is above it. Taken later (when the graph starts), a publish answered in
        // between was skipped.
        long start = cursor ?? registry.AppliedPosition;
        var response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache, no-transform";
        response.Headers["X-Accel-Buffering"] = "no"; // nginx: do not buffer the stream
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

        var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
        // The node stopping, or (cluster mode) cut off from the log: the stream ends with `event: unavailable`, so the
        // client reconnects, with its Last-Event-ID, to a node that can serve it.
        // Standalone, the node stopping is the only cause: its token as it is, not a linked source per stream (~250 B held
        // for the stream's life).
        var unavailable = services.GetService<ClusterMembership>()?.StreamsUnavailable is { } cutOff
            ? CancellationTokenSource.CreateLinkedTokenSource(cutOff, lifetime.ApplicationStopping) : null;
        var streams = services.GetRequiredService<SseStreams>();
        var node = services.GetRequiredService<IOptions<NodeOptions>>().Value;
        var connection = new SseConnection
        {
            // Exactly as many as it follows: a list's spare room would be held for the stream's life.
            Topics = topics.ToArray(),
            Registry = registry,
            Journal = services.GetRequiredService<Journal>(),
            Node = node.Id,
            Cursor = start,
            Reset = reset,
            ExpiresAt = expiresAt,
            ExpiredReason = expiredReason ?? SseConnection.TokenExpired,
            Unavailable = unavailable?.Token ?? lifetime.ApplicationStopping,
            UnavailableReason = "this node is stopping or lost its connection to the log; reconnect with your Last-Event-ID (to another node, if there is one)",
            Time = services.GetRequiredService<TimeProvider>(),
            Client = client,
            User = user,
            // Where the stream reads its topics' presence events from: taken before its join is sent below, so the mark
            // that the topic's entity counted it (PresenceFeed.TryFindCounted) comes after it.
            PresenceFrom = watching ? [.. topics.Select(topic => topic.Presence.Version)] : null,
        };
        // One graph per connection (Repl.Sse.SseStreams); it ends itself when the request is aborted.
        var events = services.GetService<HookEvents>();
        string[]? present = presence.On(topics);
        if (events is null && present is null && unavailable is null)
        {
            return streams.RunAsync(connection, await BodyWriterAsync(context, node, streams.Options), context.Abort, context.RequestAborted);
        }
        return RunTrackedAsync(context, streams, node, connection, client, events, presence, present, watching, unavailable);
    }

    /// <summary>
    /// The stream with what surrounds it: <c>stream.opened</c> and <c>stream.closed</c> to the hooks, the join and leave
    /// of its topics' presence, and the cluster's cut-off token disposed once it has ended.
    /// </summary>
    private static async Task RunTrackedAsync(HttpContext context, SseStreams streams, NodeOptions node, SseConnection connection, string client,
        HookEvents? events, NodePresence presence, string[]? present, bool watching, CancellationTokenSource? unavailable)
    {
        using var _ = unavailable;
        var followed = connection.Topics.Select(topic => topic.Name).ToArray();
        events?.Stream("stream.opened", client, connection.User, followed);
        if (present is not null) presence.Join(client, connection.User, present, watching);
        try
        {
            await streams.RunAsync(connection, await BodyWriterAsync(context, node, streams.Options), context.Abort, context.RequestAborted);
        }
        finally
        {
            if (present is not null) presence.Leave(client, present, watching);
            events?.Stream("stream.closed", client, connection.User, followed);
        }
    }

    /// <summary>
    /// The stream's writer: straight to the socket (<see cref="ChunkedSocketWriter"/>) for a cleartext HTTP/1.1 chunked
    /// response, once Kestrel has sent the head — with inline scheduling that send completes inside the flush, so
    /// Kestrel holds no unsent byte when ours begin — else Kestrel's pipe.
    /// </summary>
    private static async Task<System.IO.Pipelines.PipeWriter> BodyWriterAsync(HttpContext context, NodeOptions node, SseOptions sse)
    {
        var response = context.Response;
        if (!sse.DirectWrites || !node.InlineScheduling || context.Request.IsHttps || !HttpProtocol.IsHttp11(context.Request.Protocol)
            || context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket is not { } socket)
        {
            return response.BodyWriter;
        }
        // StartAsync only queues the head; the flush sends it.
        await response.StartAsync(context.RequestAborted);
        await response.BodyWriter.FlushAsync(context.RequestAborted);
        if (response.Headers.TransferEncoding != "chunked") return response.BodyWriter;
        try
        {
            return ChunkedSocketWriter.Over(socket);
        }
        catch (ObjectDisposedException)
        {
            // The client left between the head and here, and Kestrel has disposed the socket: its pipe knows the request
            // is aborted, and the stream ends at once. (Unhandled, a reset here was logged as an error: the soak saw one
            // in ~13,000 churned connections.)
            return response.BodyWriter;
        }
    }

    /// <summary>
    /// <c>?presence=1</c> (or <c>true</c>): the stream is told its topics' joins, leaves and counts. Any other value is a
    /// 400 naming the parameter, and so is a topic with presence off (it tracks nobody, so there is nothing to tell).
    /// </summary>
    private static IResult? Watching(HttpRequest request, NodePresence presence, List<TopicHub> topics, out bool watching)
    {
        watching = false;
        var values = request.Query["presence"];
        if (values.Count == 0) return null;
        if (values.Count > 1 || values[0] is not { } value || !(value == "1" || string.Equals(value, "true", StringComparison.OrdinalIgnoreCase)))
        {
            return ApiError.BadRequest("invalid presence",
                "the query parameter presence must be 1 or true (join, leave and presence events on the stream), or left out for none");
        }
        var off = topics.Where(topic => !presence.IsOn(topic)).Select(topic => $"'{topic.Name}'").ToArray();
        if (off.Length > 0)
        {
            return ApiError.BadRequest("presence off",
                $"presence is off for topic {string.Join(", ", off)}, so ?presence=1 has nothing to tell: turn it on with PATCH /topics/{{name}} {{\"presence\":true}}, or for every topic with the node setting Topics:Presence");
        }
        watching = true;
        return null;
    }

    private static IResult? Resolve(HttpContext context, TopicRegistry registry, LimitsOptions limits, string[] names, out List<TopicHub> topics,
        out long? cursor, out LogEpoch? epoch, out string? requested)
    {
        topics = [];
        cursor = null;
        epoch = null;
        requested = null;
        if (names.Length == 0) return ApiError.BadRequest("no topic", "name at least one topic: /sse?topic=a&topic=b");
        if (names.Length > limits.MaxTopicsPerStream)
            return ApiError.BadRequest("too many topics", $"a stream follows at most {limits.MaxTopicsPerStream} topics (Limits:MaxTopicsPerStream)");
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            if (TopicEndpoints.Lookup(name, registry, out var topic) is { } error) return error;
            topics.Add(topic);
        }
        // EventSource resends the last id it saw as a header; a first connection can only use the query.
        var lastEventId = context.Request.Headers["Last-Event-ID"];
        if (lastEventId.Count == 0 || string.IsNullOrEmpty(lastEventId[0])) lastEventId = context.Request.Query["lastEventId"];
        if (lastEventId.Count > 0 && !string.IsNullOrEmpty(lastEventId[0]))
        {
            // "position@epoch" as streams send it, or a bare position (history reads, older streams, hand-made).
            requested = lastEventId[0]!;
            int at = requested.IndexOf('@');
            LogEpoch parsed = default;
            if (at == 0 || !TopicEndpoints.TryReadLong(at < 0 ? requested : requested[..at], 0, out long position)
                || (at >= 0 && !LogEpoch.TryParse(requested.AsSpan(at + 1), out parsed)))
            {
                return ApiError.BadRequest("invalid Last-Event-ID",
                    "Last-Event-ID must be a stream id (position@epoch) or a position (a whole number ≥ 0) taken from a message's id");
            }
            cursor = position;
            if (at >= 0) epoch = parsed;
        }
        return null;
    }
}
