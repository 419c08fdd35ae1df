using Akka.Actor;
using Akka.Event;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Storage;
using Repl.Actors.Topics;

namespace Repl.Actors.Reader;

/// <summary>
/// A node's one reader of the committed log: applies every batch, in order, to the node's topic hubs (the framed
/// rings, serialized once), then moves the node's single applied watermark and wakes the subscribers it touched.
/// </summary>
/// <remarks>
/// <para>Fed by the sequencer's persist callback in standalone, by etcd's watch in cluster mode (<see cref="Etcd.ClusterLogFeed"/>, bounded). Every node applies
/// the same entries in the same order, so positions and <c>Last-Event-ID</c> mean the same everywhere.</para>
/// <para><b>No holes.</b> A batch that does not follow the watermark (<see cref="LogReaderProtocol.Apply.After"/> ahead
/// of it: this reader crashed on an earlier one) is preceded by what the journal holds in between (standalone), or
/// dropped (cluster mode: the feed opens the watch again from the watermark, see <see cref="Etcd.ClusterLogFeed"/>);
/// entries at or below the watermark are skipped. A failure to apply crashes the reader and nothing after it is applied or acknowledged
/// until it has caught up (a publisher is answered only once its batch is applied here).</para>
/// <para>In cluster mode the node's journal is etcd's local replica, written here before the watermark moves.</para>
/// <para>Every quarter of <see cref="TopicsOptions.PassivateAfter"/> (at least a second) its own timer sweeps the hubs:
/// an idle one drops its ring (<see cref="LogReaderProtocol.Sweep"/>). The reader is the hubs' one writer, so the
/// sweep runs between batches, never beside one.</para>
/// </remarks>
internal sealed class LogReader : ReceiveActor, IWithTimers
{
    private const int CatchUpPage = 4096;

    private readonly TopicRegistry _registry;
    private readonly TopicsOptions _options;
    private readonly Journal _journal;
    private readonly bool _replica;
    private readonly Action? _onRestart;
    private readonly List<LogEntry> _accepted = [];
    private readonly List<(long Position, long Answer)> _resolved = [];
    private readonly EngineTelemetry? _telemetry;
    private readonly HashSet<TopicHub> _touched = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <param name="replica">Cluster mode: write applied entries to the journal (etcd's local replica).</param>
    /// <param name="onRestart">Called after a crash: cluster mode opens the watch again from the watermark (<see cref="Etcd.ClusterLogFeed.Restart"/>).</param>
    /// <remarks>
    /// The reader does not deduplicate idempotency keys: the sequencer, the log's one writer in both modes, logs a
    /// publish whose key it holds as nothing at all, so no batch it wrote carries a duplicate.
    /// </remarks>
    public LogReader(TopicRegistry registry, TopicsOptions options, Journal journal, bool replica, Action? onRestart, EngineTelemetry? telemetry = null)
    {
        _telemetry = telemetry;
        _registry = registry;
        _options = options;
        _journal = journal;
        _replica = replica;
        _onRestart = onRestart;
        Receive<LogReaderProtocol.Apply>(apply =>
        {
            using var span = _telemetry?.StartLinked("apply", [], apply.Commit == default ? null : [apply.Commit]);
            span?.SetTag("repl.log.entries", apply.Entries.Count);
            if (apply.After > _registry.AppliedPosition)
            {
                // Cluster mode: a batch before this one was lost when the reader crashed; the feed sends both again.
                if (_replica) return;
                CatchUp(apply.After);
            }
            Apply(apply.Entries, apply.Revision);
        });
        Receive<LogReaderProtocol.Sweep>(_ =>
        {
            foreach (var topic in _registry.All)
            {
                if (topic.TryPassivate(_options.PassivateAfter)) _log.Debug("Topic {0} passivated", topic.Name);
            }
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Also after a restart: a restart cancels the timers.</summary>
    protected override void PreStart() =>
        Timers.StartPeriodicTimer("sweep", LogReaderProtocol.Sweep.Instance, TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, _options.PassivateAfter.Ticks / 4)));

    public static Props Props(TopicRegistry registry, TopicsOptions options, Journal journal, bool replica, Action? onRestart = null, EngineTelemetry? telemetry = null) =>
        Akka.Actor.Props.Create(() => new LogReader(registry, options, journal, replica, onRestart, telemetry));

    protected override void PostRestart(Exception reason)
    {
        _log.Error(reason, "Applying the log failed at position {0}; catching up from the log", _registry.AppliedPosition);
        _onRestart?.Invoke();
        base.PostRestart(reason);
    }

    /// <summary>Standalone: the journal is the log; what a crash lost is there.</summary>
    private void CatchUp(long through)
    {
        while (_registry.AppliedPosition < through)
        {
            var page = _journal.ReadLog(_registry.AppliedPosition, through, CatchUpPage);
            if (page.Count == 0)
            {
                _registry.Applied.Advance(through, []);
                return;
            }
            Apply(page);
            if (page.Count < CatchUpPage) _registry.Applied.Advance(Math.Max(_registry.AppliedPosition, through), []);
        }
    }

    private void Apply(IReadOnlyList<LogEntry> entries, long revision = 0)
    {
        long before = _registry.AppliedPosition;
        _accepted.Clear();
        _resolved.Clear();
        foreach (var entry in entries)
        {
            if (entry.Position <= before) continue; // already applied (a cluster watch may resend a window)
            switch (entry.Kind)
            {
                case LogEntryKind.Publish when _registry.TryGet(entry.Topic, out var topic):
                    topic.Append(new Frame(entry.Position, entry.Topic, MessageJson.Frame(entry.Position, _registry.Epoch.Utf8, entry.Message)), before);
                    _touched.Add(topic);
                    _accepted.Add(entry);
                    break;
                case LogEntryKind.Publish:
                    _resolved.Add((entry.Position, 0));
                    break;
                case LogEntryKind.CreateTopic when !_registry.TryGet(entry.Topic, out _):
                    _registry.Add(new TopicHub(entry.Topic, entry.Position, 0, _options.MemoryWindow, entry.Position));
                    _accepted.Add(entry);
                    break;
                case LogEntryKind.DeleteTopic when _registry.TryGet(entry.Topic, out var deleted):
                    _registry.Remove(entry.Topic);
                    deleted.MarkDeleted();
                    _touched.Remove(deleted);
                    _accepted.Add(entry);
                    break;
                case LogEntryKind.Settings when _registry.TryGet(entry.Topic, out var configured):
                    configured.Settings = TopicSettings.FromJson(entry.Message);
                    _accepted.Add(entry);
                    break;
                case LogEntryKind.Truncate when entry.Topic.Length == 0:
                    foreach (var each in _registry.All) each.Truncate(entry.TruncatedThrough, lost: true);
                    _accepted.Add(entry);
                    break;
                case LogEntryKind.Truncate when _registry.TryGet(entry.Topic, out var truncated):
                    truncated.Truncate(entry.TruncatedThrough, lost: entry.Through == 0);
                    _accepted.Add(entry);
                    break;
            }
        }
        if (entries.Count == 0) return;
        if (_replica) _journal.Write(_accepted, entries[^1].Position, revision);
        _registry.Applied.Advance(Math.Max(before, entries[^1].Position), _resolved);
        foreach (var topic in _touched) topic.NotifySubscribers();
        _touched.Clear();
    }
}
