using System.Collections.Immutable;
using Akka.Actor;
using Akka.DependencyInjection;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Microsoft.Extensions.DependencyInjection;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Sequencer;

namespace Repl.Actors.Persistence;

/// <summary>
/// The standalone log's Akka.Persistence journal: the sequencer's events written into Repl's SQLite schema
/// (<see cref="Journal.Journal"/>), one transaction per write the sequencer hands it.
/// </summary>
/// <remarks>
/// <para><b>Why our schema and not Akka.Persistence.Sql.</b> The log is read by topic (history pages, streams catching
/// up behind their ring: the <c>(topic, pos)</c> index) and trimmed per topic by retention; a data directory written
/// before Akka must open as it is, and a client's <c>Last-Event-ID</c> from it must still resume. A generic journal
/// keeps serialized payloads per persistence id and could do none of that without a second copy of every message.</para>
/// <para><b>Positions.</b> An event's sequence number is its log position: a publish is stored as the message row at
/// that position, with the id it carries in every stream. There is one persistence id, the sequencer's.</para>
/// <para><b>Replay.</b> Topic changes replay from <c>events</c>, publishes from <c>messages</c> without their body (the
/// sequencer's state needs none); publishes that retention removed are not replayed, which the sequencer's state
/// (the topic set) does not need either. Recovery starts from a snapshot, so a replay is the short tail after it.</para>
/// </remarks>
public sealed class SqliteJournal : AsyncWriteJournal
{
    // Replayed events carry no writer id of their own; one constant keeps the replay filter (mode fail) meaningful
    // for the only thing it can see here, sequence numbers going backwards.
    private const string ReplayWriter = "repl-sqlite-journal";
    private const int ReplayPage = 4096;

    private readonly Journal.Journal _journal;

    public SqliteJournal() => _journal = JournalOf(Context.System);

    /// <summary>The node's journal, from the actor system's services (Akka.Hosting puts the host's provider there).</summary>
    internal static Journal.Journal JournalOf(ActorSystem system) =>
        DependencyResolver.For(system).Resolver.GetService<Journal.Journal>()
        ?? throw new InvalidOperationException("no Repl journal among the actor system's services");

    protected override Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages as IReadOnlyCollection<AtomicWrite> ?? messages.ToList();
        var entries = new List<LogEntry>();
        foreach (var (position, e) in LogEvents(writes))
        {
            var message = e.Kind == LogEntryKind.Publish ? MessageJson.WithId(position, e.Body) : [];
            entries.Add(new LogEntry(position, e.Kind, e.Topic, message, e.CreatedAtMs, e.Through, e.Key));
        }
        // Synchronous on purpose: this actor runs on a dispatcher of its own, and SQLite has one writer anyway.
        try
        {
            _journal.Write(entries);
        }
        catch (Journal.JournalFullException full)
        {
            // A rejection, not a failure: the journal is intact and the next write may succeed (space freed). A failure
            // would stop the sequencer, lose what reached it while its backoff supervisor restarts it (those publishes
            // wait for their deadline), and open the journal's circuit breaker.
            return Task.FromResult<IImmutableList<Exception?>>(writes.Select(_ => (Exception?)full).ToImmutableList());
        }
        return Task.FromResult<IImmutableList<Exception?>>(null!);
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        Replay(_journal, persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback);
        return Task.CompletedTask;
    }

    /// <summary>The log's events in <paramref name="writes"/>, each with its sequence number (its position), for either journal.</summary>
    /// <exception cref="InvalidOperationException">An event of another persistence id: the Repl journals keep the log only.</exception>
    internal static IEnumerable<(long SequenceNr, LogEvent Event)> LogEvents(IEnumerable<AtomicWrite> writes)
    {
        foreach (var write in writes)
        {
            foreach (var persistent in (IImmutableList<IPersistentRepresentation>)write.Payload)
            {
                if (persistent.PersistenceId != SequencerActor.LogPersistenceId)
                    throw new InvalidOperationException($"the Repl journal keeps the log only, not '{persistent.PersistenceId}'");
                yield return (persistent.SequenceNr, (LogEvent)persistent.Payload);
            }
        }
    }

    /// <summary>Replays the log's events from Repl's SQLite schema: this journal's, and in cluster mode the node's replica of etcd's log (<see cref="EtcdJournal"/>).</summary>
    internal static void Replay(Journal.Journal journal, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        long after = fromSequenceNr - 1;
        long left = max;
        while (left > 0)
        {
            var page = journal.ReadLog(after, toSequenceNr, (int)Math.Min(left, ReplayPage), bodies: false);
            foreach (var entry in page)
            {
                var e = new LogEvent(entry.Kind, entry.Topic, [], entry.CreatedAtMs, entry.Through, entry.Key);
                recoveryCallback(new Persistent(e, entry.Position, persistenceId, "", false, ActorRefs.NoSender, ReplayWriter));
            }
            if (page.Count < ReplayPage) break;
            after = page[^1].Position;
            left -= page.Count;
        }
    }

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken) =>
        Task.FromResult(_journal.LastPosition);

    /// <summary>The log is trimmed per topic by retention (truncate entries), never by the writer deleting its own events.</summary>
    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken) =>
        Task.FromException(new NotSupportedException("the Repl log is trimmed by retention (truncate entries), not by deleting events"));
}
