using System.Text;
using Microsoft.AspNetCore.Authorization;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Sequencer;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
using Repl.Host.Contract;
using Repl.Host.Hooks;
using Repl.Host.Metrics;
using Repl.Host.Node;
using Repl.Host.Security;

namespace Repl.Host.Api;

/// <summary>The REPL topic routes, plus topic info, delete, history and batch publish.</summary>
/// <remarks>
/// The handlers take the node's services from this instance, made once when the routes are mapped. Taken as handler
/// parameters, they would be resolved per request, and that opens a service scope for every publish.
/// Each route declares what a caller's token must grant (<see cref="ReplPolicies"/>); the limits it falls under are
/// <see cref="TrafficMetadata"/>.
/// </remarks>
internal sealed class TopicEndpoints(ReplNode node, TopicRegistry registry, Journal journal, LimitsOptions limits, TimeProvider time, IAuthorizationService? authorization,
    ReplTracing tracing, PublishHook? publishHook, HookEvents? events)
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var services = routes.ServiceProvider;
        var api = new TopicEndpoints(services.GetRequiredService<ReplNode>(), services.GetRequiredService<TopicRegistry>(), services.GetRequiredService<Journal>(),
            services.GetRequiredService<LimitsOptions>(), services.GetRequiredService<TimeProvider>(), services.GetService<IAuthorizationService>(),
            services.GetRequiredService<ReplTracing>(), services.GetService<PublishHook>(), services.GetService<HookEvents>());
        // Casts: as a RequestDelegate (its only parameter is the context), the IResult it returns would be discarded.
        routes.MapGet("/topics", (Delegate)api.ListAsync).RequireAuthorization(ReplPolicies.Subscribe);
        routes.MapPost("/topics", (Delegate)api.CreateAsync).RequireAuthorization(ReplPolicies.Create);
        routes.MapGet("/topics/{topic}", api.Info).RequireAuthorization(ReplPolicies.Subscribe);
        routes.MapDelete("/topics/{topic}", api.DeleteAsync).RequireAuthorization(ReplPolicies.Publish);
        routes.MapPatch("/topics/{topic}", api.ConfigureAsync).RequireAuthorization(ReplPolicies.Admin);
        routes.MapPost("/topics/{topic}", api.PublishAsync).RequireAuthorization(ReplPolicies.Publish).WithMetadata(TrafficMetadata.Publish);
        routes.MapPost("/topics/{topic}/batch", api.PublishBatchAsync).RequireAuthorization(ReplPolicies.Publish).WithMetadata(TrafficMetadata.Publish);
        routes.MapGet("/topics/{topic}/messages", api.History).RequireAuthorization(ReplPolicies.Subscribe);
    }

    /// <summary>The topics the caller may subscribe to (all of them with auth off or <c>Auth:AnonymousSubscribe</c>).</summary>
    private async Task<IResult> ListAsync(HttpContext context)
    {
        var visible = new List<string>();
        foreach (var name in registry.Public.Select(topic => topic.Name).Order(StringComparer.Ordinal))
        {
            // Resource-based: the same policy the stream route declares, asked about each topic.
            // No authorization service: auth is off, and every topic is visible.
            if (authorization is null || (await authorization.AuthorizeAsync(context.User, name, ReplPolicies.Subscribe)).Succeeded) visible.Add(name);
        }
        return TypedResults.Json(visible.ToArray(), ApiJsonContext.Default.StringArray);
    }

    private async Task<IResult> CreateAsync(HttpContext context)
    {
        var (body, error) = await PublishInput.ReadBodyAsync(context, limits);
        if (error is not null) return error;
        CreateTopicRequest? request;
        try
        {
            var reader = new System.Text.Json.Utf8JsonReader(body);
            request = System.Text.Json.JsonSerializer.Deserialize(ref reader, ApiJsonContext.Default.CreateTopicRequest);
        }
        catch (Exception exception) when (exception is System.Text.Json.JsonException or InvalidOperationException)
        {
            return ApiError.BadRequest("malformed JSON", exception.Message);
        }
        if (request?.Name is not { } name) return ApiError.BadRequest("missing name", "send {\"name\":\"...\"}");
        if (!TopicName.IsValid(name)) return ApiError.InvalidTopic(name);
        long position = await node.CreateTopicAsync(name);
        if (position == 0) return ApiError.Of(StatusCodes.Status409Conflict, "topic exists", $"topic '{name}' already exists");
        // Told by the node that took the request, the one that knows the change committed (see HookEvents).
        events?.Topic("topic.created", name, position);
        return TypedResults.Json(new MessageBody("topic created"), ApiJsonContext.Default.MessageBody, statusCode: StatusCodes.Status201Created);
    }

    private IResult Info(string topic)
    {
        if (Lookup(topic, registry, out var actor) is { } error) return error;
        var stats = journal.Stats(topic);
        return TypedResults.Json(
            new TopicInfo(topic, actor.SubscriberCount, stats.Messages, stats.FirstPosition, stats.LastPosition, actor.Created, actor.TrimmedThrough, actor.IsActive,
                TopicSettingsInput.Body(actor.Settings)),
            ApiJsonContext.Default.TopicInfo);
    }

    /// <summary>Changes the topic's own settings through the log; answers them once the change is applied here.</summary>
    private async Task<IResult> ConfigureAsync(string topic, HttpContext context)
    {
        if (Lookup(topic, registry, out _) is { } error) return error;
        var (body, readError) = await PublishInput.ReadBodyAsync(context, limits);
        if (readError is not null) return readError;
        var (settings, fields, parseError) = TopicSettingsInput.Parse(body);
        if (parseError is not null) return parseError;
        long position = await node.ConfigureTopicAsync(topic, settings, fields);
        // Deleted meanwhile: the sequencer decides existence at its cut.
        if (position == 0 || !registry.TryGet(topic, out var hub)) return ApiError.TopicNotFound(topic);
        return TypedResults.Json(new TopicSettingsChanged("topic settings changed", topic, TopicSettingsInput.Body(hub.Settings)), ApiJsonContext.Default.TopicSettingsChanged);
    }

    private async Task<IResult> DeleteAsync(string topic, HttpContext context)
    {
        if (Lookup(topic, registry, out _) is { } error) return error;
        long position = await node.DeleteTopicAsync(topic);
        if (position == 0) return ApiError.TopicNotFound(topic);
        events?.Topic("topic.deleted", topic, position);
        return TypedResults.Json(new MessageBody("topic deleted"), ApiJsonContext.Default.MessageBody);
    }

    private async Task<IResult> PublishAsync(string topic, HttpContext context)
    {
        if (Lookup(topic, registry, out var hub) is { } error) return error;
        var (body, readError) = await PublishInput.ReadBodyAsync(context, limits);
        if (readError is not null) return readError;
        if (PublishInput.ParseOne(topic, body, time.GetUtcNow(), out var parseError, out bool valueMissing) is not { } command) return parseError!;
        // A topic without a size of its own: one null check.
        if (OverSize(hub, [command], numbered: false) is { } tooLarge) return tooLarge;
        var (key, keyError) = PublishInput.ReadKey(context);
        if (keyError is not null) return keyError;
        if (key is not null) command = command with { Key = key };
        // No hook set: one null check, nothing else (the publish path is S5's).
        if (publishHook is not null)
        {
            PublishCommand[] asked = [command];
            if (await publishHook.AskAsync(context, topic, asked, batch: false) is { } refused) return refused;
            command = asked[0];
            // The hook may have made the message longer: the topic's limit is on what is committed.
            if (OverSize(hub, [command], numbered: false) is { } rewrittenTooLarge) return rewrittenTooLarge;
        }
        using var activity = tracing.StartPublish(topic, 1);
        var commit = await CommitAsync(activity, [command]);
        long position = commit.Positions[0];
        if (position == 0) return ApiError.TopicNotFound(topic);
        if (position == SequencerProtocol.OverRate) return OverRate(context, topic, hub);
        if (valueMissing) context.Response.Headers[MissingValueWarning.Key] = MissingValueWarning.Value;
        var (id, rest) = Published(command, position, commit.IsRetry(0));
        return new RawJson(StatusCodes.Status201Created, PublishedPrefix, id, rest, ClosingBrace);
    }

    private async Task<IResult> PublishBatchAsync(string topic, HttpContext context)
    {
        if (Lookup(topic, registry, out var hub) is { } error) return error;
        var (body, readError) = await PublishInput.ReadBodyAsync(context, limits);
        if (readError is not null) return readError;
        if (PublishInput.ParseBatch(topic, body, time.GetUtcNow(), limits.MaxBatch, out var parseError) is not { } commands) return parseError!;
        if (OverSize(hub, commands, numbered: true) is { } tooLarge) return tooLarge;
        // One hook call for the whole batch, which may make messages longer.
        if (publishHook is not null)
        {
            if (await publishHook.AskAsync(context, topic, commands, batch: true) is { } refused) return refused;
            if (OverSize(hub, commands, numbered: true) is { } rewrittenTooLarge) return rewrittenTooLarge;
        }
        using var activity = tracing.StartPublish(topic, commands.Length);
        var commit = await CommitAsync(activity, commands);
        long[] positions = commit.Positions;
        if (positions[0] == 0) return ApiError.TopicNotFound(topic);
        // A request's publishes are refused or taken together (the sequencer decides the rate per request).
        if (positions[0] == SequencerProtocol.OverRate) return OverRate(context, topic, hub);
        var messages = new ReadOnlyMemory<byte>[commands.Length * 2];
        for (int i = 0; i < commands.Length; i++) (messages[i * 2], messages[i * 2 + 1]) = Published(commands[i], positions[i], commit.IsRetry(i));
        return new RawJson(StatusCodes.Status201Created, RawJson.Array("{\"message\":\"messages published\",\"data\":"u8, messages, "}"u8, partsPerItem: 2));
    }

    /// <summary>
    /// The message as committed at <paramref name="position"/>, in two parts: its id (<c>{"id":"42",</c>) and the rest
    /// of the body, which the answer writes as they are instead of joining them (<see cref="MessageJson.WithId"/>) into a
    /// new array: the same bytes the journal stores. A <paramref name="retry"/> (its idempotency key was committed before,
    /// as the sequencer said) is answered with the first publish's position, and its message is the one stored there
    /// (same id, same createdAt), not this request's: read back from the journal, for retries only.
    /// </summary>
    private (ReadOnlyMemory<byte> Head, ReadOnlyMemory<byte> Tail) Published(PublishCommand command, long position, bool retry)
    {
        if (retry && journal.MessageAt(position) is { } stored) return (stored, ReadOnlyMemory<byte>.Empty);
        Span<byte> id = stackalloc byte[MessageJson.MaxIdPrefixLength];
        return (id[..MessageJson.WriteIdPrefix(position, id)].ToArray(), command.Body.AsMemory(1));
    }

    /// <summary>Sends the commands through the sequencer and notes the outcome on the publish span (null when tracing is off).</summary>
    /// <remarks>
    /// The span covers the commit only: input that fails validation never reaches the log and gets no span. Without a
    /// span the node's task is handed back as it is: an async method here cost every publish a state machine and a
    /// continuation more.
    /// </remarks>
    private Task<Commit> CommitAsync(System.Diagnostics.Activity? activity, PublishCommand[] commands) =>
        activity is null ? node.PublishAsync(commands) : CommitTracedAsync(activity, commands);

    private async Task<Commit> CommitTracedAsync(System.Diagnostics.Activity activity, PublishCommand[] commands)
    {
        // The trace goes on inside the commands: the engine's commit and apply spans link to it.
        for (int i = 0; i < commands.Length; i++) commands[i] = commands[i] with { TraceParent = activity.Id };
        try
        {
            var commit = await node.PublishAsync(commands);
            long[] positions = commit.Positions;
            if (positions[0] == 0) ReplTracing.Failed(activity, "topic deleted before the commit");
            else if (positions[0] == SequencerProtocol.OverRate) ReplTracing.Failed(activity, "over the topic's publishRate");
            else ReplTracing.Committed(activity, positions[0], positions[^1]);
            return commit;
        }
        catch (Exception exception)
        {
            ReplTracing.Failed(activity, exception.Message);
            throw;
        }
    }

    private IResult History(string topic, HttpContext context)
    {
        if (Lookup(topic, registry, out var actor) is { } error) return error;
        var query = context.Request.Query;
        if (!TryReadLong(query["after"], 0, out long after) || after < 0)
            return ApiError.BadRequest("invalid after", "'after' must be a position: a whole number ≥ 0");
        if (!TryReadLong(query["limit"], 100, out long limit) || limit < 1 || limit > limits.MaxHistoryPage)
            return ApiError.BadRequest("invalid limit", $"'limit' must be a whole number from 1 to {limits.MaxHistoryPage}");
        long applied = registry.AppliedPosition;
        var messages = journal.Read([topic], after, applied, (int)limit);
        long oldest = journal.FirstPosition(topic);
        var suffix = Encoding.UTF8.GetBytes($",\"oldest\":{oldest},\"last\":{applied},\"gap\":{(after < actor.TrimmedThrough ? "true" : "false")}}}");
        var prefix = Encoding.UTF8.GetBytes("{\"topic\":" + System.Text.Json.JsonSerializer.Serialize(topic, ApiJsonContext.Default.String) + ",\"messages\":");
        return new RawJson(StatusCodes.Status200OK, RawJson.Array(prefix, messages.Select(message => (ReadOnlyMemory<byte>)message.Json).ToList(), suffix));
    }

    /// <summary>
    /// 413 for the first of <paramref name="commands"/> over <paramref name="hub"/>'s <c>maxMessageBytes</c>, named by its
    /// index when <paramref name="numbered"/> (a batch); null when all fit, or the topic has no size of its own (one null
    /// check). Asked as a request comes, and again after a publish hook rewrote it: the limit is on what is committed.
    /// </summary>
    internal static IResult? OverSize(TopicHub hub, ReadOnlySpan<PublishCommand> commands, bool numbered)
    {
        if (hub.Settings.MaxMessageBytes is not { } maxBytes) return null;
        for (int i = 0; i < commands.Length; i++)
        {
            if (commands[i].Body.Length > maxBytes)
            {
                return ApiError.Of(StatusCodes.Status413PayloadTooLarge, "message too large",
                    $"{(numbered ? $"item {i}" : "the message")} is over the limit of {maxBytes} bytes of topic '{hub.Name}' (its maxMessageBytes: the message's JSON without its id); nothing was committed");
            }
        }
        return null;
    }

    /// <summary>429 with <c>Retry-After</c> for a publish the sequencer refused over the topic's <c>publishRate</c>.</summary>
    internal static IResult OverRate(HttpContext context, string topic, TopicHub? hub)
    {
        // The time one publish takes to come back into the topic's bucket; a publisher that waits it out mostly gets in.
        double rate = hub?.Settings.PublishRate ?? 1;
        int seconds = Math.Max(1, (int)Math.Ceiling(1 / rate));
        context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return ApiError.Of(StatusCodes.Status429TooManyRequests, "rate limited",
            $"topic '{topic}' takes at most {rate.ToString(System.Globalization.CultureInfo.InvariantCulture)} publishes per second (its publishRate), cluster-wide; nothing was committed, retry after {seconds} s");
    }

    /// <summary>Checks a topic named in a route: 400 when internal or invalid, 404 when unknown.</summary>
    /// <remarks>
    /// An existing topic is found even when the name rule now refuses its name: a journal written before the rule
    /// grew (a topic <c>a.</c>) keeps its topics reachable wherever a URL can still name them (<c>/sse?topic=a.</c>).
    /// </remarks>
    internal static IResult? Lookup(string topic, TopicRegistry registry, out TopicHub actor)
    {
        if (!TopicName.IsInternal(topic) && registry.TryGet(topic, out actor)) return null;
        actor = null!;
        return TopicName.IsValid(topic) ? ApiError.TopicNotFound(topic) : ApiError.InvalidTopic(topic);
    }

    internal static bool TryReadLong(Microsoft.Extensions.Primitives.StringValues values, long fallback, out long value)
    {
        if (values.Count == 0 || string.IsNullOrEmpty(values[0]))
        {
            value = fallback;
            return true;
        }
        return long.TryParse(values[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value);
    }

    /// <summary>
    /// On a publish without <c>value</c>: REPL stored <c>""</c> and answered 201, and its clients rely on it, so Repl
    /// does the same and says what it did (README, "Compatibility with REPL").
    /// </summary>
    internal static readonly KeyValuePair<string, string> MissingValueWarning =
        new("X-Repl-Warning", "message has no \"value\"; published with value \"\" as REPL did; send {\"value\":\"...\"}");

    private static readonly byte[] PublishedPrefix = "{\"message\":\"message published\",\"data\":"u8.ToArray();
    private static readonly byte[] ClosingBrace = "}"u8.ToArray();
}
