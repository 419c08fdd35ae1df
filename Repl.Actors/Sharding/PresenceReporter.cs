using Akka.Actor;
using Repl.Actors.Topics;

namespace Repl.Actors.Sharding;

/// <summary>
/// A node's side of presence (one per node, <c>/user/presence</c>): the node's streams on each topic with presence on,
/// told to each topic's entity as numbered batches of joins and leaves, every <see cref="Options.Flush"/>.
/// </summary>
/// <remarks>
/// <para>Holds per topic the node's current clients (what a <see cref="PresenceProtocol.Full"/> resend carries) and the
/// changes not yet sent. A topic whose last client left, once that is sent, is forgotten: its numbering starts again
/// at 1, which the entity reads as "from empty".</para>
/// <para>Idle costs nothing: no timer runs while the node has no presence client and nothing to send.</para>
/// <para><b>Watching.</b> A topic with <c>?presence=1</c> streams is watched: its deltas and heartbeats say so, and the
/// entity's <see cref="PresenceProtocol.Events"/> come back here, where they are framed once into the topic's
/// <see cref="PresenceFeed"/> for those streams. So that a stream starts from counts that include itself, each batch
/// also marks the streams of this node whose joins the entity has applied (<see cref="PresenceProtocol.Events.Applied"/>).</para>
/// </remarks>
public sealed class PresenceReporter : ReceiveActor, IWithTimers
{
    /// <param name="Flush">How often joins and leaves are sent (~250 ms).</param>
    /// <param name="Heartbeat">How often each topic with clients is confirmed to its entity; well under the entities' passivation.</param>
    public sealed record Options(TimeSpan Flush, TimeSpan Heartbeat);

    private sealed class FlushTick
    {
        public static readonly FlushTick Instance = new();
    }

    private sealed class HeartbeatTick
    {
        public static readonly HeartbeatTick Instance = new();
    }

    /// <summary>One topic's clients on this node, and what the entity has not been told.</summary>
    private sealed class TopicClients
    {
        public readonly Dictionary<string, PresenceProtocol.Client> Members = new(StringComparer.Ordinal);

        /// <summary>Client → its join, or null for a leave. A client that joins and leaves within one flush sends nothing.</summary>
        public readonly Dictionary<string, PresenceProtocol.Client?> Pending = new(StringComparer.Ordinal);

        public long Seq;

        /// <summary>Streams here with <c>?presence=1</c> on the topic.</summary>
        public int Watching;

        /// <summary>Those of them not yet counted by the entity: the sequence number that carried their join (0: not sent yet).</summary>
        public Dictionary<string, long>? Uncounted;
    }

    private readonly IActorRef _topics;
    private readonly PresenceProtocol.Origin _origin;
    private readonly Options _options;
    private readonly TopicRegistry? _registry;
    private readonly Dictionary<string, TopicClients> _byTopic = new(StringComparer.Ordinal);

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="registry">The node's topics, whose feeds take the entities' events; null: events are dropped.</param>
    public PresenceReporter(IActorRef topics, PresenceProtocol.Origin origin, Options options, TopicRegistry? registry)
    {
        _topics = topics;
        _origin = origin;
        _options = options;
        _registry = registry;
        Receive<PresenceProtocol.Join>(Join);
        Receive<PresenceProtocol.Leave>(Leave);
        Receive<FlushTick>(_ => Flush());
        Receive<HeartbeatTick>(_ => Heartbeat());
        Receive<PresenceProtocol.Resend>(resend => SendFull(resend.Topic));
        Receive<PresenceProtocol.Events>(Told);
    }

    public static Props Props(IActorRef topics, PresenceProtocol.Origin origin, Options options, TopicRegistry? registry = null) =>
        Akka.Actor.Props.Create(() => new PresenceReporter(topics, origin, options, registry));

    private void Join(PresenceProtocol.Join join)
    {
        foreach (var topic in join.Topics)
        {
            if (!_byTopic.TryGetValue(topic, out var clients)) _byTopic[topic] = clients = new TopicClients();
            clients.Members[join.Client.Id] = join.Client;
            clients.Pending[join.Client.Id] = join.Client;
            if (join.Watching)
            {
                clients.Watching++;
                (clients.Uncounted ??= new(StringComparer.Ordinal))[join.Client.Id] = 0;
            }
        }
        ScheduleFlush();
        if (!Timers.IsTimerActive(HeartbeatTick.Instance)) Timers.StartPeriodicTimer(HeartbeatTick.Instance, HeartbeatTick.Instance, _options.Heartbeat);
    }

    private void Leave(PresenceProtocol.Leave leave)
    {
        foreach (var topic in leave.Topics)
        {
            if (!_byTopic.TryGetValue(topic, out var clients) || !clients.Members.Remove(leave.Client)) continue;
            if (leave.Watching)
            {
                clients.Watching--;
                clients.Uncounted?.Remove(leave.Client);
            }
            // A join the entity has not seen yet is simply not sent.
            if (clients.Pending.TryGetValue(leave.Client, out var pending) && pending is not null) clients.Pending.Remove(leave.Client);
            else clients.Pending[leave.Client] = null;
        }
        ScheduleFlush();
    }

    private void ScheduleFlush()
    {
        if (!Timers.IsTimerActive(FlushTick.Instance)) Timers.StartSingleTimer(FlushTick.Instance, FlushTick.Instance, _options.Flush);
    }

    private void Flush()
    {
        List<string>? forget = null;
        foreach (var (topic, clients) in _byTopic)
        {
            if (clients.Pending.Count > 0)
            {
                var joins = new List<PresenceProtocol.Client>();
                var leaves = new List<string>();
                foreach (var (client, join) in clients.Pending)
                {
                    if (join is null) leaves.Add(client);
                    else joins.Add(join);
                }
                clients.Pending.Clear();
                _topics.Tell(new PresenceProtocol.Deltas(topic, _origin, ++clients.Seq, [.. joins], [.. leaves], clients.Watching > 0), Self);
                Sent(clients);
            }
            if (clients.Members.Count == 0) (forget ??= []).Add(topic);
        }
        if (forget is not null)
        {
            foreach (var topic in forget) _byTopic.Remove(topic);
        }
        if (_byTopic.Count == 0) Timers.Cancel(HeartbeatTick.Instance);
    }

    private void Heartbeat()
    {
        foreach (var (topic, clients) in _byTopic)
        {
            // A topic with changes pending is told at the next flush anyway.
            if (clients.Pending.Count == 0) _topics.Tell(new PresenceProtocol.Heartbeat(topic, _origin, clients.Seq, clients.Watching > 0), Self);
        }
    }

    /// <summary>
    /// The whole set, as a new sequence number: deltas sent before it are below it, and the entity drops them if they
    /// arrive after. A topic this node holds nothing of answers empty at 0, so the next delta (1) starts from empty.
    /// Sent through the region, as the deltas are, so it is not overtaken by the deltas after it.
    /// </summary>
    private void SendFull(string topic)
    {
        if (!_byTopic.TryGetValue(topic, out var clients))
        {
            _topics.Tell(new PresenceProtocol.Full(topic, _origin, 0, []), Self);
            return;
        }
        clients.Pending.Clear();
        _topics.Tell(new PresenceProtocol.Full(topic, _origin, ++clients.Seq, [.. clients.Members.Values], clients.Watching > 0), Self);
        Sent(clients);
    }

    /// <summary>The watching streams whose joins were not sent before went with <see cref="TopicClients.Seq"/>.</summary>
    private static void Sent(TopicClients clients)
    {
        if (clients.Uncounted is not { Count: > 0 } uncounted) return;
        foreach (var client in uncounted.Where(entry => entry.Value == 0).Select(entry => entry.Key).ToArray()) uncounted[client] = clients.Seq;
    }

    /// <summary>
    /// The entity's batch, framed once into the topic's feed: its changes, a marker for each stream here whose join it
    /// has applied (those streams start from the counts that follow), the counts event when it is to be told, and the
    /// counts as the feed's snapshot.
    /// </summary>
    private void Told(PresenceProtocol.Events events)
    {
        if (_registry is null || !_registry.TryGet(events.Topic, out var hub) || hub.PresenceIfAny is not { } feed) return;
        var entries = new List<(string? Client, byte[]? Bytes)>(events.Changes.Length + 1);
        foreach (var change in events.Changes) entries.Add((change.Client, PresenceEvents.Change(events.Topic, change.Joined, change.Client, change.User)));
        if (_byTopic.TryGetValue(events.Topic, out var clients) && clients.Uncounted is { Count: > 0 } uncounted)
        {
            List<string>? counted = null;
            foreach (var (client, seq) in uncounted)
            {
                if (seq > 0 && seq <= events.Applied) (counted ??= []).Add(client);
            }
            if (counted is not null)
            {
                foreach (var client in counted)
                {
                    uncounted.Remove(client);
                    entries.Add((client, null));
                }
            }
        }
        var counts = PresenceEvents.Counts(events.Topic, events.Clients, events.Users);
        if (events.TellCounts) entries.Add((null, counts));
        feed.Publish(entries, counts);
    }
}
