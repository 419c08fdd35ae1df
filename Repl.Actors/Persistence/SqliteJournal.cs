using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.DependencyInjection;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Microsoft.Extensions.DependencyInjection;
using Repl.Actors.Log;
using Repl.Actors.Storage;

namespace Repl.Actors.Persistence;

/// <summary>
/// The standalone log's Akka.Persistence journal: the sequencer's events written into Repl's SQLite schema
/// (<see cref="Journal"/>), one transaction per write the sequencer hands it.
/// </summary>
/// <remarks>
/// <para><b>Why our schema and not Akka.Persistence.Sql.</b> The log is read by topic (history pages, streams catching
/// up behind their ring: the <c>(topic, pos)</c> index) and trimmed per topic by retention; a data directory written
/// before Akka must open as it is, and a client's <c>Last-Event-ID</c> from it must still resume. A generic journal
/// keeps serialized payloads per persistence id and could do none of that without a second copy of every message.</para>
/// <para><b>Why the journal protocol itself and not <see cref="AsyncWriteJournal"/>.</b> A SQLite write is synchronous
/// (one writer, a short transaction), so this journal answers each write from inside the message that asked for it.
/// <see cref="AsyncWriteJournal"/> is made for writes that complete later: it hands every answer (one per event, plus
/// the batch's) to a resequencer actor on the shared pool, which then tells the sequencer; on a busy core those hops
/// were ~1.5 ms of an acknowledgement's ~4 ms (bench S3, see bench/README.md). Here the journal runs on the log's own
/// thread with the sequencer (<c>plugin-dispatcher</c>), so a write and its answers cross no thread. Its circuit
/// breaker is not missed: a failed write stops the sequencer, whose backoff supervisor already spaces the retries.</para>
/// <para><b>Positions.</b> An event's sequence number is its log position: a publish is stored as the message row at
/// that position, with the id it carries in every stream. There is one persistence id, the sequencer's.</para>
/// <para><b>Replay.</b> Topic changes replay from <c>events</c>, keyed publishes from <c>keys</c> without their body
/// (<see cref="Journal.ReadForReplay"/>): the sequencer's state is the topic set and the idempotency keys, and
/// neither needs a message nor a publish without a key. Recovery starts from a snapshot, so a replay is the short tail after it. The
/// replay passes through Akka's <see cref="ReplayFilter"/> (<c>replay-filter.mode</c>).</para>
/// </remarks>
public sealed class SqliteJournal : WriteJournalBase
{
    // Replayed events carry no writer id of their own; one constant keeps the replay filter (mode fail) meaningful
    // for the only thing it can see here, sequence numbers going backwards.
    private const string ReplayWriter = "repl-sqlite-journal";
    private const int ReplayPage = 4096;

    private readonly Journal _journal;
    private readonly Func<IActorRef, Props>? _replayFilter;

    /// <param name="config">The plugin's HOCON section (Akka.Persistence passes it to a constructor that takes one).</param>
    public SqliteJournal(Config config)
    {
        _journal = NodeJournal.Of(Context.System);
        ReplayFilterMode? mode = config.GetString("replay-filter.mode", "fail").ToLowerInvariant() switch
        {
            "off" => (ReplayFilterMode?)null,
            "repair-by-discard-old" => ReplayFilterMode.RepairByDiscardOld,
            "warn" => ReplayFilterMode.Warn,
            "fail" => ReplayFilterMode.Fail,
            var other => throw new ConfigurationException($"replay-filter.mode '{other}': use off, repair-by-discard-old, warn or fail"),
        };
        if (mode is { } filter)
        {
            int window = config.GetInt("replay-filter.window-size", 100);
            int oldWriters = config.GetInt("replay-filter.max-old-writers", 10);
            bool debug = config.GetBoolean("replay-filter.debug", false);
            _replayFilter = actor => ReplayFilter.Props(actor, filter, window, oldWriters, debug);
        }
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case WriteMessages write:
                Write(write);
                return true;
            case ReplayMessages replay:
                Replay(replay);
                return true;
            case DeleteMessagesTo delete:
                // The log is trimmed per topic by retention (truncate entries), never by the writer deleting its own events.
                delete.PersistentActor.Tell(new DeleteMessagesFailure(
                    new NotSupportedException("the Repl log is trimmed by retention (truncate entries), not by deleting events"), delete.ToSequenceNr));
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Writes one request's events in one transaction and answers as <see cref="AsyncWriteJournal"/> does, in the same
    /// order: the batch's outcome, then each event's (and a deferred handler's loop message) with its own sender.
    /// </summary>
    private void Write(WriteMessages write)
    {
        var writes = write.Messages.OfType<AtomicWrite>().ToList();
        Exception? failed = null;
        Exception? rejected = null;
        try
        {
            var entries = new List<LogEntry>();
            foreach (var (position, e) in LogEvents(writes))
                entries.Add(new LogEntry(position, e.Kind, e.Topic, e.MessageAt(position), e.CreatedAtMs, e.Through, e.Key));
            _journal.Write(entries);
        }
        catch (JournalFullException full)
        {
            // A rejection, not a failure: the journal is intact and the next write may succeed (space freed). A failure
            // would stop the sequencer and lose what reached it while its backoff supervisor restarts it (those
            // publishes wait for their deadline).
            rejected = full;
        }
        catch (Exception e)
        {
            // One SQLite transaction, rolled back when anything in it fails (the disposed transaction rolls back, and
            // SQLite rolls back a COMMIT that failed for I/O or space): nothing of the write was committed.
            failed = new LogUnavailableException($"the journal's transaction was rolled back: {e.Message}", e);
        }
        var actor = write.PersistentActor;
        actor.Tell(failed is null ? WriteMessagesSuccessful.Instance : new WriteMessagesFailed(failed, writes.Count));
        foreach (var envelope in write.Messages)
        {
            if (envelope is not AtomicWrite atomic)
            {
                actor.Tell(new LoopMessageSuccess(envelope.Payload, write.ActorInstanceId), envelope.Sender);
                continue;
            }
            foreach (var persistent in (IImmutableList<IPersistentRepresentation>)atomic.Payload)
            {
                object answer = failed is not null ? new WriteMessageFailure(persistent, failed, write.ActorInstanceId)
                    : rejected is not null ? new WriteMessageRejected(persistent, rejected, write.ActorInstanceId)
                    : new WriteMessageSuccess(persistent, write.ActorInstanceId);
                actor.Tell(answer, persistent.Sender);
            }
        }
    }

    private void Replay(ReplayMessages replay)
    {
        var replyTo = _replayFilter is null ? replay.PersistentActor : Context.ActorOf(_replayFilter(replay.PersistentActor));
        try
        {
            long highest = _journal.LastPosition;
            long to = Math.Min(replay.ToSequenceNr, highest);
            if (to > 0 && replay.FromSequenceNr <= to)
            {
                Replay(_journal, replay.PersistenceId, replay.FromSequenceNr, to, replay.Max,
                    persistent => replyTo.Tell(new ReplayedMessage(persistent), ActorRefs.NoSender));
            }
            replyTo.Tell(new RecoverySuccess(highest));
        }
        catch (Exception e)
        {
            replyTo.Tell(new ReplayMessagesFailure(e));
        }
    }

    /// <summary>The log's events in <paramref name="writes"/>, each with its sequence number (its position), for either journal.</summary>
    /// <exception cref="InvalidOperationException">An event of another persistence id: the Repl journals keep the log only.</exception>
    internal static IEnumerable<(long SequenceNr, LogEvent Event)> LogEvents(IEnumerable<AtomicWrite> writes)
    {
        foreach (var write in writes)
        {
            foreach (var persistent in (IImmutableList<IPersistentRepresentation>)write.Payload)
            {
                if (persistent.PersistenceId != LogPersistence.PersistenceId)
                    throw new InvalidOperationException($"the Repl journal keeps the log only, not '{persistent.PersistenceId}'");
                yield return (persistent.SequenceNr, (LogEvent)persistent.Payload);
            }
        }
    }

    /// <summary>Replays the log's events from Repl's SQLite schema: this journal's, and in cluster mode the node's replica of etcd's log (<see cref="EtcdJournal"/>).</summary>
    internal static void Replay(Journal journal, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        long after = fromSequenceNr - 1;
        long left = max;
        while (left > 0)
        {
            var page = journal.ReadForReplay(after, toSequenceNr, (int)Math.Min(left, ReplayPage));
            foreach (var entry in page)
            {
                // A settings entry comes with its settings (the sequencer keeps them); a publish needs no body.
                var e = new LogEvent(entry.Kind, entry.Topic, entry.Kind == LogEntryKind.Settings ? entry.Message : [], entry.CreatedAtMs, entry.Through, entry.Key);
                recoveryCallback(new Persistent(e, entry.Position, persistenceId, "", false, ActorRefs.NoSender, ReplayWriter));
            }
            if (page.Count < ReplayPage) break;
            after = page[^1].Position;
            left -= page.Count;
        }
    }
}
