using Akka.Actor;
using Akka.Event;
using Repl.Actors.Log;
using Repl.Actors.Sequencer;
using Repl.Actors.Storage;
using Repl.Actors.Topics;

namespace Repl.Actors.Sharding;

/// <summary>
/// A topic's sharded entity (role <c>broker</c>): the decisions that are per topic in the whole cluster — its creation
/// and deletion, its settings, and how far retention trims it (at the topic's own limits where it has them) — taken in
/// one place and committed through the log.
/// </summary>
/// <remarks>
/// <para><b>Off the publish path.</b> Publishes go from each node's batcher straight to the sequencer, which decides at
/// each cut whether the topic exists; this entity is asked only for changes, and passivates when idle.</para>
/// <para><b>One writer per fact.</b> Retention's cut is this entity's decision, committed as a truncate entry: the
/// journal drops the rows and every node's hub moves its trimmed-through mark when that entry is applied, so nothing
/// else writes that mark. Create, delete and settings changes are forwarded with the caller as sender, so the sequencer
/// answers the caller directly; the sequencer merges a settings change into the topic's settings at its cut, where it
/// also decides existence, so two changes in flight at once both land.</para>
/// <para><b>Presence.</b> The topic's clients across the cluster, held only in memory (TopicEntity.Presence.cs).</para>
/// </remarks>
internal sealed partial class TopicEntity : ReceiveActor, IWithTimers
{
    private readonly string _topic;
    private readonly IActorRef _sequencer;
    private readonly Journal _journal;
    private readonly TopicRegistry _registry;
    private readonly TimeProvider _time;
    private readonly TimeSpan _deadline;
    private readonly PresenceProtocol.EventOptions _events;

    public TopicEntity(string topic, IActorRef sequencer, Journal journal, TopicRegistry registry, TimeProvider time, TimeSpan deadline,
        PresenceProtocol.EventOptions events)
    {
        _topic = topic;
        _sequencer = sequencer;
        _journal = journal;
        _registry = registry;
        _time = time;
        _deadline = deadline;
        _events = events;
        Receive<TopicProtocol.Create>(_ => _sequencer.Forward(Change(LogEntryKind.CreateTopic, 0)));
        Receive<TopicProtocol.Delete>(_ => _sequencer.Forward(Change(LogEntryKind.DeleteTopic, 0)));
        Receive<TopicProtocol.Retain>(_ => Retain());
        Receive<TopicProtocol.Configure>(configure => _sequencer.Forward(Change(LogEntryKind.Settings, 0) with { Settings = configure.Settings, Fields = configure.Fields }));
        ReceivePresence();
    }

    /// <param name="events">How presence events are told to watching nodes (default <see cref="PresenceProtocol.EventOptions.Default"/>).</param>
    public static Props Props(string topic, IActorRef sequencer, Journal journal, TopicRegistry registry, TimeProvider time, TimeSpan deadline,
        PresenceProtocol.EventOptions? events = null)
    {
        var options = events ?? PresenceProtocol.EventOptions.Default;
        return Akka.Actor.Props.Create(() => new TopicEntity(topic, sequencer, journal, registry, time, deadline, options));
    }

    private void Retain()
    {
        long trimmed = _registry.TryGet(_topic, out var hub) ? hub.TrimmedThrough : 0;
        long cut;
        try
        {
            cut = _journal.Retention.Cut(_topic, _time.GetUtcNow());
        }
        catch (Exception error)
        {
            Context.GetLogger().Warning("Retention of {0} failed, will retry: {1}", _topic, error.Message);
            Sender.Tell(new SequencerProtocol.TopicChanged(_topic, 0));
            return;
        }
        if (hub is null || cut <= trimmed)
        {
            Sender.Tell(new SequencerProtocol.TopicChanged(_topic, 0));
            return;
        }
        _sequencer.Forward(Change(LogEntryKind.Truncate, cut));
    }

    private SequencerProtocol.ChangeTopic Change(LogEntryKind kind, long through) =>
        new(kind, _topic, through, _time.GetUtcNow().Add(_deadline).ToUnixTimeMilliseconds());
}
