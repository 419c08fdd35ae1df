using System.Buffers;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Repl.Host.Metrics;
using Repl.Host.Node;

namespace Repl.Host.Hooks;

/// <summary>
/// The events hook (<c>Hooks:Events</c>): tells the backend, after the fact, that a topic was created or deleted and that
/// a stream opened or closed. Never in anyone's way: a route only queues its event.
/// </summary>
/// <remarks>
/// <para>Events wait in one bounded queue per node (<c>Hooks:EventQueue</c>) and one sender posts them one at a time, in
/// the order they were queued, each until the backend answers 2xx: at least once, in order per node, while the node
/// lives and the queue has room. A failed call is tried again with the same <c>webhook-id</c> after a backoff (1 s,
/// doubling up to 30 s), so a backend can drop a redelivery it already has.</para>
/// <para>When the queue is full the oldest queued event is dropped for the new one: counted
/// (<c>repl_hook_events_dropped_total</c>) and logged, at most once a second with the count. Events still queued when
/// the node stops or dies are lost.</para>
/// <para>A slow or dead backend holds the events hook's own slot (<see cref="HookClient.EventSlots"/>, apart from the
/// subscribe and publish hooks' <c>Hooks:MaxInFlight</c>) and its own circuit breaker; publishes and streams never wait
/// for it.</para>
/// </remarks>
internal sealed class HookEvents : BackgroundService
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(30);

    private readonly HookClient _hooks;
    private readonly HookMetrics _metrics;
    private readonly Channel<Event> _queue;
    private readonly TimeProvider _time;
    private readonly ILogger<HookEvents> _logger;
    private readonly string _node;
    private readonly Counter<long> _sent;
    private readonly Counter<long> _dropped;
    private long _droppedUnlogged;
    private long _lastDropLog;
    private int _queued;

    public HookEvents(HookClient hooks, HookMetrics metrics, IMeterFactory meters, TimeProvider time, ILogger<HookEvents> logger, IOptions<NodeOptions> node)
    {
        _hooks = hooks;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _node = node.Value.Id;
        _queue = Channel.CreateBounded<Event>(
            new BoundedChannelOptions(hooks.Options.EventQueue) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            Dropped);
        var meter = meters.Create(ReplTelemetry.Name);
        _sent = meter.CreateCounter<long>("repl.hook.events.sent", "{event}", "Events the events hook delivered (answered 2xx).");
        _dropped = meter.CreateCounter<long>("repl.hook.events.dropped", "{event}",
            "Events dropped, oldest first, because the events hook's queue (Hooks:EventQueue) was full.");
        meter.CreateObservableGauge("repl.hook.events.queued", () => Volatile.Read(ref _queued), "{event}", "Events waiting in the events hook's queue.");
        _sent.Add(0);
        _dropped.Add(0);
    }

    /// <summary>One event to deliver: its <c>webhook-id</c> and its JSON body.</summary>
    private readonly record struct Event(string Id, byte[] Body);

    /// <summary>A topic was created (<c>topic.created</c>) or deleted (<c>topic.deleted</c>), committed at <paramref name="position"/>.</summary>
    public void Topic(string type, string topic, long position) =>
        Queue(type, writer =>
        {
            writer.WriteString("topic", topic);
            writer.WriteNumber("position", position);
        });

    /// <summary>A stream opened (<c>stream.opened</c>) or closed (<c>stream.closed</c>) on this node.</summary>
    public void Stream(string type, string client, string? user, IEnumerable<string> topics) =>
        Queue(type, writer =>
        {
            writer.WriteString("client", client);
            if (user is null) writer.WriteNull("user");
            else writer.WriteString("user", user);
            writer.WriteStartArray("topics");
            foreach (var topic in topics) writer.WriteStringValue(topic);
            writer.WriteEndArray();
        });

    private void Queue(string type, Action<Utf8JsonWriter> fields)
    {
        // Version 7: ids sort by time, which helps a backend that keeps them to drop redeliveries.
        string id = "evt_" + Guid.CreateVersion7().ToString("N");
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", id);
            writer.WriteString("type", type);
            writer.WriteString("time", _time.GetUtcNow());
            writer.WriteString("node", _node);
            fields(writer);
            writer.WriteEndObject();
        }
        // A DropOldest channel always takes the write: the caller never waits.
        if (_queue.Writer.TryWrite(new Event(id, buffer.WrittenSpan.ToArray()))) Interlocked.Increment(ref _queued);
    }

    private void Dropped(Event dropped)
    {
        Interlocked.Decrement(ref _queued);
        _dropped.Add(1);
        long count = Interlocked.Increment(ref _droppedUnlogged);
        long now = _time.GetTimestamp();
        long last = Volatile.Read(ref _lastDropLog);
        // One line a second at most: a dead backend under a steady stream of events would otherwise log each one.
        if ((last == 0 || _time.GetElapsedTime(last, now) >= TimeSpan.FromSeconds(1)) && Interlocked.CompareExchange(ref _lastDropLog, now, last) == last)
        {
            count = Interlocked.Exchange(ref _droppedUnlogged, 0);
            _logger.LogWarning("Events hook: its queue is full (Hooks:EventQueue = {Capacity}); dropped {Count} oldest event(s), the last {Id}",
                _hooks.Options.EventQueue, count, dropped.Id);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var next in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                Interlocked.Decrement(ref _queued);
                await DeliverAsync(next, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: what is still queued is lost, as the docs say.
        }
    }

    /// <summary>Posts <paramref name="next"/> until the backend answers 2xx; only the node stopping ends the attempts.</summary>
    private async Task DeliverAsync(Event next, CancellationToken stoppingToken)
    {
        var wait = FirstRetry;
        for (int attempt = 1; ; attempt++)
        {
            var reply = await _hooks.CallAsync(HookKind.Events, next.Body, stoppingToken, next.Id);
            if (!reply.Failed && reply.Status is >= 200 and < 300)
            {
                _sent.Add(1);
                return;
            }
            // Any answer but 2xx is not a delivery (Standard Webhooks); one the client did not count as a failure is counted here.
            if (!reply.Failed) _metrics.Failed(HookKind.Events, HookFailure.BadAnswer);
            string cause = reply.Failed ? reply.Cause! : $"the hook answered {reply.Status}";
            if (attempt == 1) _logger.LogWarning("Events hook: event {Id} not delivered ({Cause}); trying again, the next events wait behind it", next.Id, cause);
            else _logger.LogDebug("Events hook: event {Id} not delivered, attempt {Attempt} ({Cause})", next.Id, attempt, cause);
            await Task.Delay(wait, _time, stoppingToken);
            wait = TimeSpan.FromTicks(Math.Min(LastRetry.Ticks, wait.Ticks * 2));
        }
    }
}
