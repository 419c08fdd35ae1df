using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Reader;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
using LogEvent = Repl.Actors.Log.LogEvent;

namespace Repl.Actors.Sequencer;

/// <summary>
/// The log's one writer: a cluster singleton and a persistent actor. It cuts batches from what nodes send it, decides
/// at each cut which topics exist, persists the batch, and answers once it is durable.
/// </summary>
/// <remarks>
/// <para><b>Batching.</b> One write is in flight at a time; what arrives meanwhile waits in the actor's own queue and
/// becomes the next write, so batches grow with load (group commit). <c>PersistAllAsync</c> over that queue: plain
/// <c>Persist</c>/<c>PersistAll</c> would stash commands during the write and shrink every batch to one.</para>
/// <para><b>Positions</b> are the journal's sequence numbers: one event per publish or topic change.</para>
/// <para><b>Snapshots</b> (<see cref="SequencerProtocol.JournalSnapshot"/>) hold no state, only a sequence number S: the
/// topic set and the idempotency keys are rebuilt from the node's journal (standalone the log itself, in cluster mode
/// etcd's local replica), which keeps both (<c>topics</c>, and <c>keys</c> for the idempotency window). A snapshot stays
/// a few bytes whatever the window and the topic count hold, and taking one costs the log's thread nothing.</para>
/// <para><b>Recovery's invariant.</b> The journal read at recovery must have applied at least S; it may have applied
/// more, up to the log's head. The state rebuilt from it is then the state at some R with S ≤ R ≤ head, and the replay
/// of the events after S brings it to the head: every change the sequencer keeps is "the last event for this name wins" (a
/// topic's create or delete, a key's position), and a replayed event at or below R only says again what R already
/// holds. The cluster's snapshot store offers a snapshot only once the node's replica has applied its sequence number
/// (<see cref="Etcd.EtcdSnapshotStore"/>), and the rebuild checks it again: below S the recovery fails, and the
/// backoff supervisor's next incarnation tries again.</para>
/// <para><b>Authority.</b> A publish to a topic that does not exist at the cut gets position 0 (the caller answers 404)
/// and is not persisted. A request that must commit whole (<see cref="SequencerProtocol.Publish.Requests"/>: a broadcast)
/// is persisted only if every one of its topics exists at the cut, else none of it is. A publish over its topic's
/// <c>publishRate</c> gets <see cref="SequencerProtocol.OverRate"/> (429), unpersisted, and so does the rest of its
/// request; the rate is kept here, at the one writer, so it holds for the whole cluster. A batch whose deadline passed
/// before the cut is rejected unpersisted.</para>
/// <para><b>Topic settings</b> are merged here at the cut and logged whole (<see cref="LogEntryKind.Settings"/>), so
/// every entry replaces the last; the sequencer's copy is rebuilt like the topic set: from the journal's <c>topics</c>
/// table, then the replay.</para>
/// <para><b>One write, one transaction.</b> A write is cut at what one journal transaction holds
/// (<see cref="SequencerProtocol.Settings.MaxWriteBytes"/>, <see cref="SequencerProtocol.Settings.MaxWriteTopicChanges"/>),
/// between callers' commands, so it commits whole or not at all.</para>
/// <para><b>Failure.</b> A failed write stops a persistent actor; every caller of the batch is told it was not
/// committed when the journal knows so, or else that its outcome is unknown (<see cref="SequencerProtocol.OutcomeUnknown"/>:
/// the answer was lost, and the write may be in the log), and the <see cref="Akka.Pattern.BackoffSupervisor"/> above starts a new incarnation, which recovers from
/// the latest snapshot plus the journal's tail. A write the journal rejected because its disk is full
/// (<see cref="Storage.JournalFullException"/>) changed nothing: its callers are told so (503), the topic changes it
/// cut are taken back, and the sequencer goes on with what is queued, so publishing and topic changes work again as
/// soon as space is freed. Any other rejection stops it too (the topic set was changed at the cut, and only a
/// recovery from what the journal holds is surely right again). The positions such a write took
/// are spent, never issued: the log skips them (its readers allow holes). <see cref="SequencerProtocol.Drain"/> (the
/// singleton's termination message) commits what is queued, answers everyone, then stops.</para>
/// </remarks>
internal sealed class SequencerActor : ReceivePersistentActor
{
    /// <summary>The log's persistence id: the only one the Repl journal keeps.</summary>
    public const string LogPersistenceId = LogPersistence.PersistenceId;

    private readonly SequencerProtocol.Settings _settings;
    private readonly TimeProvider _time;
    private readonly EngineTelemetry? _telemetry;
    private readonly List<(IActorRef ReplyTo, object Command)> _queue = [];
    // Topic → the position that created it (0 when not known: a snapshot written whole by an earlier version), which a
    // settings entry carries for etcd's topic key.
    private Dictionary<string, long> _topics = new(StringComparer.Ordinal);
    // The topics with settings of their own, and the buckets of those with a publishRate: null while none has one, so a
    // cut of publishes to topics without a rate costs one null check per publish.
    private readonly Dictionary<string, TopicSettings> _topicSettings = new(StringComparer.Ordinal);
    private Dictionary<string, RateBucket>? _rates;
    private IdempotencyWindow _keys;
    private List<Cut>? _writing;
    private int _writingEvents;
    // Rejections of a rejected write's events still to come. The next write waits for them: they must not be taken for
    // its own, and LastSequenceNr (where the next write says it follows) counts the rejected positions only once they came.
    private int _rejectionsToCome;
    private bool _draining;
    private long _snapshotAt;

    public SequencerActor(SequencerProtocol.Settings settings, TimeProvider time, EngineTelemetry? metrics = null)
    {
        _settings = settings;
        _time = time;
        _telemetry = metrics;
        _keys = new IdempotencyWindow(settings.KeyWindow, settings.MaxKeys);
        Recover<SnapshotOffer>(offer =>
        {
            _snapshotAt = offer.Metadata.SequenceNr;
            _keys = new IdempotencyWindow(settings.KeyWindow, settings.MaxKeys);
            _topicSettings.Clear();
            _rates = null;
            if (offer.Snapshot is SequencerProtocol.Snapshot whole)
            {
                // Written whole by an earlier version, before topics had settings.
                _topics = whole.Topics.ToDictionary(topic => topic, _ => 0L, StringComparer.Ordinal);
                foreach (var key in whole.Keys) _keys.Add(key);
                return;
            }
            RebuildFromJournal(offer.Metadata.SequenceNr);
        });
        Recover<LogEvent>(e =>
        {
            Decide(e, LastSequenceNr);
            if (e.Key is { } key) _keys.Add(new IdempotencyKey(e.Topic, key, LastSequenceNr, e.CreatedAtMs));
        });
        Command<SequencerProtocol.Publish>(publish => Enqueue(publish));
        Command<SequencerProtocol.ChangeTopic>(change => Enqueue(change));
        Command<RejectedWriteOver>(_ => Write());
        Command<SequencerProtocol.Drain>(_ =>
        {
            _draining = true;
            StopWhenDrained();
        });
        Command<SaveSnapshotSuccess>(saved => DeleteSnapshots(new SnapshotSelectionCriteria(saved.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(failed =>
        {
            _telemetry?.SnapshotFailures.Add(1);
            Context.GetLogger().Warning("The snapshot at {0} was not saved ({1}: {2}); a recovery replays from the last one saved", failed.Metadata.SequenceNr,
                failed.Cause.GetType().Name, failed.Cause.Message);
        });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId => LogPersistenceId;

    /// <summary>The sequencer's props; the singleton wraps them in a backoff supervisor (<see cref="Hosting.ReplEngineHosting"/>).</summary>
    public static Props Props(SequencerProtocol.Settings settings, TimeProvider time, EngineTelemetry? metrics = null) =>
        Akka.Actor.Props.Create(() => new SequencerActor(settings, time, metrics));

    /// <summary>
    /// The sequencer under the backoff supervisor it always runs under: a persistent actor stops on a failed write, and a
    /// singleton that stopped is not started again until its node leaves. <see cref="SequencerProtocol.Drain"/> stops both.
    /// </summary>
    public static Props SupervisedProps(SequencerProtocol.Settings settings, TimeProvider time, EngineTelemetry? metrics = null, string? dispatcher = null)
    {
        var sequencer = Props(settings, time, metrics);
        if (dispatcher is not null) sequencer = sequencer.WithDispatcher(dispatcher);
        return Akka.Pattern.BackoffSupervisor.Props(Akka.Pattern.Backoff.OnStop(sequencer, "log", TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(3), 0.2, -1)
            .WithFinalStopMessage(message => message is SequencerProtocol.Drain));
    }

    private void Enqueue(object command)
    {
        if (_draining)
        {
            Sender.Tell(new SequencerProtocol.Rejected(command is SequencerProtocol.Publish p ? p.BatchId : 0, "the sequencer is stopping; retry"));
            return;
        }
        _queue.Add((Sender, command));
        if (_writing is null) Write();
    }

    /// <summary>Cuts a batch from the queue and persists it.</summary>
    private void Write()
    {
        while (_writing is null && _rejectionsToCome == 0 && _queue.Count > 0)
        {
            long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var events = new List<LogEvent>();
            var cuts = new List<Cut>();
            // Keys first seen in this cut: a second publish with one of them lands where the first does.
            var cutKeys = new Dictionary<(string, string), int>();
            // The publishers' traces, when tracing is on: the write's span links to each.
            List<string?>? parents = _telemetry?.Source.HasListeners() == true ? [] : null;
            int taken = 0;
            long bytes = 0;
            int topicChanges = 0;
            while (taken < _queue.Count && events.Count < _settings.MaxBatch)
            {
                var (replyTo, command) = _queue[taken];
                // A write is one journal transaction, so it is cut at one transaction's size, between commands: a
                // transaction is all or nothing, and so is every write and every caller's answer. What was split into
                // several transactions could fail after its first, committed, part.
                var (size, changes) = Footprint(command);
                if (events.Count > 0 && (bytes + size > _settings.MaxWriteBytes || topicChanges + changes > _settings.MaxWriteTopicChanges)) break;
                taken++;
                bytes += size;
                topicChanges += changes;
                switch (command)
                {
                    case SequencerProtocol.Publish publish when publish.DeadlineMs < now:
                        replyTo.Tell(new SequencerProtocol.Rejected(publish.BatchId, "the publish waited past its deadline and was not committed"));
                        break;
                    case SequencerProtocol.Publish publish:
                        var indexes = new int[publish.Commands.Length];
                        long[]? known = null;
                        // Where a command's key was committed before (in the window, or earlier in this write): its
                        // publisher is answered with that message, which the node then reads back (it is not this command's).
                        bool[]? retried = null;
                        // The request that command i belongs to ends before requestEnd; all of it is refused when one
                        // of its topics does not exist (a batch without Requests: every command stands alone).
                        int request = 0, requestEnd = 0;
                        bool refused = false;
                        // Rates are decided per request too (Admit), so a request is never committed in part.
                        bool admitted = true;
                        int groupEnd = 0;
                        for (int i = 0; i < indexes.Length; i++)
                        {
                            var c = publish.Commands[i];
                            parents?.Add(c.TraceParent);
                            if (publish.Requests is { } requests && i == requestEnd)
                            {
                                requestEnd = request < requests.Length ? Math.Min(indexes.Length, i + Math.Max(1, requests[request++])) : indexes.Length;
                                refused = !AllExist(publish.Commands, i, requestEnd);
                            }
                            if (refused || !_topics.ContainsKey(c.Topic))
                            {
                                indexes[i] = NotLogged;
                                continue;
                            }
                            if (_rates is not null)
                            {
                                if (i >= groupEnd) (admitted, groupEnd) = Admit(publish.Commands, i, publish.Requests is null ? 0 : requestEnd, now);
                                if (!admitted)
                                {
                                    indexes[i] = OverRate;
                                    continue;
                                }
                            }
                            if (c.Key is { } key)
                            {
                                // Committed before, within the window: answered with that position, nothing new is logged.
                                if (_keys.TryGet(c.Topic, key, out long position))
                                {
                                    (known ??= new long[indexes.Length])[i] = position;
                                    (retried ??= new bool[indexes.Length])[i] = true;
                                    indexes[i] = Duplicate;
                                    continue;
                                }
                                if (cutKeys.TryGetValue((c.Topic, key), out int first))
                                {
                                    (retried ??= new bool[indexes.Length])[i] = true;
                                    indexes[i] = first;
                                    continue;
                                }
                                cutKeys[(c.Topic, key)] = events.Count;
                            }
                            indexes[i] = events.Count;
                            // Its message is built here, once, for the position it is persisted at: persisting assigns the
                            // next sequence numbers in order, and none is in flight (one write at a time, rejections in).
                            events.Add(new LogEvent(LogEntryKind.Publish, c.Topic, c.Body, c.CreatedAtMs, Key: c.Key)
                            {
                                Message = _settings.Reader is null ? null : MessageJson.WithId(LastSequenceNr + events.Count + 1, c.Body),
                            });
                        }
                        cuts.Add(new Cut(replyTo, publish.BatchId, indexes, null, known) { Retried = retried });
                        break;
                    case SequencerProtocol.ChangeTopic change when change.DeadlineMs < now:
                        replyTo.Tell(new SequencerProtocol.Rejected(0, "the topic change waited past its deadline and was not committed"));
                        break;
                    case SequencerProtocol.ChangeTopic change:
                        // What the change replaces, should its write be rejected (Undo).
                        _topics.TryGetValue(change.Topic, out long created);
                        var before = SettingsOf(change.Topic);
                        var e = change.Kind == LogEntryKind.Settings
                            // Merged here, at the cut, and logged whole: every node and the journal replace, none merges.
                            ? new LogEvent(LogEntryKind.Settings, change.Topic, before.With(change.Settings ?? TopicSettings.None, change.Fields).ToJson(), now, created)
                            : new LogEvent(change.Kind, change.Topic, [], now, change.Through);
                        if (!Decide(e, LastSequenceNr + events.Count + 1))
                        {
                            replyTo.Tell(new SequencerProtocol.TopicChanged(change.Topic, 0));
                            break;
                        }
                        cuts.Add(new Cut(replyTo, 0, [events.Count], e) { Created = created, Before = before });
                        events.Add(e);
                        break;
                }
            }
            _queue.RemoveRange(0, taken);
            if (events.Count == 0)
            {
                Answer(cuts, []);
                continue;
            }
            _writing = cuts;
            _writingEvents = events.Count;
            long after = LastSequenceNr;
            long started = Stopwatch.GetTimestamp();
            var entries = new LogEntry[events.Count];
            int persisted = 0;
            var span = parents is null ? null : _telemetry!.StartLinked("commit", parents.Distinct());
            span?.SetTag("repl.log.entries", events.Count);
            // Standalone the journal stored each message's bytes and the node's reader takes the same ones; in cluster
            // mode every node's reader decodes etcd's batch, and the entries here need no message.
            bool messages = _settings.Reader is not null;
            PersistAllAsync(events, e =>
            {
                long position = LastSequenceNr;
                entries[persisted++] = new LogEntry(position, e.Kind, e.Topic, messages ? e.MessageAt(position) : [], e.CreatedAtMs, e.Through, e.Key);
            }, () => Written(after, entries, cuts, started, span));
        }
        StopWhenDrained();
    }

    /// <summary>Whether every topic of <c>commands[start..end]</c> exists now: a request that commits whole needs them all.</summary>
    private bool AllExist(PublishCommand[] commands, int start, int end)
    {
        for (int i = start; i < end; i++)
        {
            if (!_topics.ContainsKey(commands[i].Topic)) return false;
        }
        return true;
    }

    /// <summary>
    /// What a command takes of a write at most: entry bytes as the etcd journal encodes them, and topic creates, deletes
    /// or settings (each one more operation on a topic key in etcd's transaction).
    /// </summary>
    private static (long Bytes, int TopicChanges) Footprint(object command) => command switch
    {
        SequencerProtocol.Publish publish => (LogBatchCodec.SizeOf(publish.Commands), 0),
        SequencerProtocol.ChangeTopic change => (LogBatchCodec.SizeOf(change.Topic, change.Kind == LogEntryKind.Settings ? TopicSettingsMaxBytes : 0),
            change.Kind is LogEntryKind.CreateTopic or LogEntryKind.DeleteTopic or LogEntryKind.Settings ? 1 : 0),
        _ => (0, 0),
    };

    /// <summary>A bound on a settings entry's JSON (five fields, numbers at most 20 characters each).</summary>
    private const int TopicSettingsMaxBytes = 200;

    /// <summary>
    /// Whether the publishes of one request, from <paramref name="first"/>, are within their topics' publishRate, and
    /// where that request ends: <paramref name="end"/> when the batch says (<see cref="SequencerProtocol.Publish.Requests"/>,
    /// a broadcast spans topics), else the run of publishes with the first one's topic and createdAt (a request's
    /// publishes are adjacent in a batch, the batcher concatenates requests whole, and were read at once; two requests
    /// taken as one run are only decided together). Every topic of the request must have room, or none is taken.
    /// </summary>
    private (bool Admitted, int End) Admit(PublishCommand[] commands, int first, int end, long nowMs)
    {
        var head = commands[first];
        if (end <= first)
        {
            end = first + 1;
            while (end < commands.Length && commands[end].CreatedAtMs == head.CreatedAtMs && string.Equals(commands[end].Topic, head.Topic, StringComparison.Ordinal)) end++;
        }
        var rates = _rates!;
        for (int i = first; i < end; i++)
        {
            if (rates.TryGetValue(commands[i].Topic, out var bucket) && !bucket.HasRoom(nowMs)) return (false, end);
        }
        for (int i = first; i < end; i++)
        {
            if (rates.TryGetValue(commands[i].Topic, out var bucket)) bucket.Take(1);
        }
        return (true, end);
    }

    private void Written(long after, LogEntry[] entries, List<Cut> cuts, long started, Activity? span)
    {
        span?.SetTag("repl.log.first", entries[0].Position).SetTag("repl.log.last", entries[^1].Position).Stop();
        // Akka runs no completion callback for a write the journal rejected (since 1.5.75, akka.net#8950): should one
        // come, its callers were already told it was not committed (OnPersistRejected).
        if (!ReferenceEquals(_writing, cuts)) return;
        _telemetry?.CommitDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
        _telemetry?.BatchSize.Record(entries.Length);
        // The node's reader first: a publisher is answered only once its node has applied the batch (the batcher
        // waits for that), and this message is already ahead of the answer on the reader's side.
        _settings.Reader?.Tell(new LogReaderProtocol.Apply(after, entries, span?.Context ?? default));
        // Before the next cut, so a retry queued behind this write finds its key.
        foreach (var entry in entries)
        {
            if (entry.Key is { } key) _keys.Add(new IdempotencyKey(entry.Topic, key, entry.Position, entry.CreatedAtMs));
        }
        Answer(cuts, entries);
        _writing = null;
        if (LastSequenceNr - _snapshotAt >= _settings.SnapshotEvery)
        {
            // Its state is the journal's at LastSequenceNr (or later): see the remarks.
            SaveSnapshot(SequencerProtocol.JournalSnapshot.Instance);
            _snapshotAt = LastSequenceNr;
        }
        Write();
    }

    private static void Answer(List<Cut> cuts, LogEntry[] entries)
    {
        foreach (var cut in cuts)
        {
            if (cut.Change is { } change)
            {
                cut.ReplyTo.Tell(new SequencerProtocol.TopicChanged(change.Topic, entries[cut.Indexes[0]].Position));
                continue;
            }
            var positions = new long[cut.Indexes.Length];
            for (int i = 0; i < positions.Length; i++)
            {
                int index = cut.Indexes[i];
                positions[i] = index switch
                {
                    >= 0 => entries[index].Position,
                    Duplicate => cut.Known![i],
                    OverRate => SequencerProtocol.OverRate,
                    _ => 0,
                };
            }
            cut.ReplyTo.Tell(new SequencerProtocol.Committed(cut.BatchId, positions, cut.Retried));
        }
    }

    /// <summary>The topic set, its settings and the idempotency keys from the node's journal, which has applied at least <paramref name="snapshotAt"/> (see the remarks).</summary>
    private void RebuildFromJournal(long snapshotAt)
    {
        var journal = NodeJournal.Of(Context.System);
        long applied = journal.LastPosition;
        if (applied < snapshotAt)
            throw new InvalidOperationException($"the node's journal has applied the log up to {applied}, the snapshot is at {snapshotAt}: its state cannot be rebuilt yet");
        long started = Stopwatch.GetTimestamp();
        var topics = journal.LoadTopics();
        _topics = topics.ToDictionary(topic => topic.Name, topic => topic.Created, StringComparer.Ordinal);
        foreach (var topic in topics)
        {
            if (topic.SettingsJson.Length > 0) Configure(topic.Name, TopicSettings.FromJson(topic.SettingsJson));
        }
        foreach (var key in journal.Keys.InWindow(_settings.KeyWindow, _settings.MaxKeys)) _keys.Add(key);
        Context.GetLogger().Info("Rebuilt {0} topics and {1} idempotency keys from the journal (applied to {2}, snapshot at {3}) in {4:0} ms",
            _topics.Count, _keys.Count, applied, snapshotAt, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>Applies a topic change at <paramref name="position"/> to the topic set; false when it changes nothing (and is then not logged).</summary>
    private bool Decide(LogEvent e, long position)
    {
        switch (e.Kind)
        {
            case LogEntryKind.CreateTopic:
                return _topics.TryAdd(e.Topic, position);
            case LogEntryKind.DeleteTopic:
                if (!_topics.Remove(e.Topic)) return false;
                Configure(e.Topic, TopicSettings.None);
                return true;
            case LogEntryKind.Truncate:
                return _topics.ContainsKey(e.Topic);
            case LogEntryKind.Settings:
                if (!_topics.ContainsKey(e.Topic)) return false;
                Configure(e.Topic, TopicSettings.FromJson(e.Body));
                return true;
            default:
                return true;
        }
    }

    /// <summary>Takes back what <see cref="Decide"/> did for a change that was not committed.</summary>
    private void Undo(Cut cut)
    {
        var e = cut.Change!;
        switch (e.Kind)
        {
            case LogEntryKind.CreateTopic:
                _topics.Remove(e.Topic);
                break;
            case LogEntryKind.DeleteTopic:
                _topics.TryAdd(e.Topic, cut.Created);
                Configure(e.Topic, cut.Before);
                break;
            case LogEntryKind.Settings:
                Configure(e.Topic, cut.Before);
                break;
        }
    }

    private TopicSettings SettingsOf(string topic) => _topicSettings.GetValueOrDefault(topic, TopicSettings.None);

    /// <summary>The topic's settings from now on; its rate bucket is kept while its rate is the same (another setting changed).</summary>
    private void Configure(string topic, TopicSettings settings)
    {
        if (settings.IsEmpty) _topicSettings.Remove(topic);
        else _topicSettings[topic] = settings;
        if (settings.PublishRate is { } rate)
        {
            _rates ??= new Dictionary<string, RateBucket>(StringComparer.Ordinal);
            if (!_rates.TryGetValue(topic, out var bucket) || bucket.PerSecond != rate) _rates[topic] = new RateBucket(rate, _time.GetUtcNow().ToUnixTimeMilliseconds());
        }
        else if (_rates is not null && _rates.Remove(topic) && _rates.Count == 0)
        {
            _rates = null;
        }
    }

    private void StopWhenDrained()
    {
        if (_draining && _writing is null && _queue.Count == 0) Context.Stop(Self);
    }

    /// <remarks>
    /// Its callers are told "not committed" only when the cause says so (<see cref="NothingCommitted"/>); any other
    /// failure may have come after the journal sent the write (a deadline, a lost connection): its outcome is unknown.
    /// </remarks>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        if (NothingCommitted(cause))
        {
            Context.GetLogger().Warning("The log write at {0} failed, nothing of it was committed: {1}", sequenceNr, cause.Message);
            Reject(cause, "the log write failed");
        }
        else
        {
            Context.GetLogger().Warning("The log write at {0} failed and its outcome is unknown (it may have been committed): {1}", sequenceNr, cause.Message);
            string reason = $"the log write's outcome is unknown (it may have been committed, and is then delivered): {cause.Message}";
            foreach (var cut in _writing ?? []) cut.ReplyTo.Tell(new SequencerProtocol.OutcomeUnknown(cut.BatchId, reason));
            _writing = null;
        }
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    /// <summary>
    /// Whether a failed write is known to have committed nothing: the journal said so (<see cref="LogUnavailableException"/>:
    /// refused before or by the log), or Akka's circuit breaker did not let the write reach the journal.
    /// </summary>
    private static bool NothingCommitted(Exception cause) =>
        cause is LogUnavailableException or JournalFullException or Akka.Pattern.OpenCircuitException;

    /// <remarks>
    /// Called once per event of the rejected write: the first call answers its callers and decides. Akka runs no
    /// completion callback for a rejected write, so after a full journal the write is over at its last event's rejection,
    /// and the next write starts from a message to itself, like any command (see <see cref="RejectedWriteOver"/>).
    /// </remarks>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        if (_rejectionsToCome > 0)
        {
            if (--_rejectionsToCome == 0) Self.Tell(RejectedWriteOver.Instance);
            return;
        }
        if (_writing is null) return;
        Context.GetLogger().Warning("The journal rejected the write at {0}: {1}", sequenceNr, cause.Message);
        if (cause is Storage.JournalFullException)
        {
            // The journal is as it was: take back the cut's topic changes, newest first (each one changed the set, or
            // it would not have been logged), and go on.
            for (int i = _writing.Count - 1; i >= 0; i--)
            {
                if (_writing[i].Change is not null) Undo(_writing[i]);
            }
            Reject(cause, null);
            _rejectionsToCome = _writingEvents - 1;
            if (_rejectionsToCome == 0) Self.Tell(RejectedWriteOver.Instance);
            return;
        }
        Reject(cause, "the journal rejected the write");
        // Unlike a failure, a rejection leaves the actor running, with the cut's topic changes applied to a set the
        // journal may not have: stop, and let the backoff supervisor's next incarnation recover the journal's truth.
        Context.Stop(Self);
    }

    /// <param name="what">What happened, before the cause; null when the cause says it all.</param>
    private void Reject(Exception cause, string? what)
    {
        string reason = what is null ? cause.Message : $"{what}, nothing of it was committed: {cause.Message}";
        foreach (var cut in _writing ?? []) cut.ReplyTo.Tell(new SequencerProtocol.Rejected(cut.BatchId, reason));
        _writing = null;
    }

    protected override void PostStop()
    {
        // Queued, never cut: not committed. A successor (backoff restart, or the singleton elsewhere) starts empty.
        foreach (var (replyTo, command) in _queue)
        {
            replyTo.Tell(new SequencerProtocol.Rejected(command is SequencerProtocol.Publish p ? p.BatchId : 0, "the sequencer stopped before this was committed; retry"));
        }
        _queue.Clear();
        base.PostStop();
    }

    /// <summary>
    /// To itself once every event of a write the journal rejected has been answered: the next write may start. A message
    /// rather than a write from inside <see cref="OnPersistRejected"/>, so the next write is sent to the journal as any
    /// command's is. It never leaves the node.
    /// </summary>
    private sealed class RejectedWriteOver : INoSerializationVerificationNeeded
    {
        public static readonly RejectedWriteOver Instance = new();
    }

    private const int NotLogged = -1;
    private const int Duplicate = -2;
    private const int OverRate = -3;

    /// <summary>
    /// One caller's share of a write: where each of its commands landed in the batch (<see cref="NotLogged"/>: its topic
    /// does not exist; <see cref="Duplicate"/>: its idempotency key was committed before, at <c>Known[i]</c>;
    /// <see cref="OverRate"/>: its topic's publishRate refused it).
    /// </summary>
    private sealed record Cut(IActorRef ReplyTo, long BatchId, int[] Indexes, LogEvent? Change, long[]? Known = null)
    {
        /// <summary>A topic change: the topic's create position and settings before it, for <see cref="Undo"/>.</summary>
        public long Created { get; init; }

        public TopicSettings Before { get; init; } = TopicSettings.None;

        /// <summary>Null, or true where a command's key was committed before (<see cref="SequencerProtocol.Committed.Retried"/>).</summary>
        public bool[]? Retried { get; init; }
    }
}
