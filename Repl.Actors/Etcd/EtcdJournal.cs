using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Etcdserverpb;
using Google.Protobuf;
using Repl.Actors.Log;
using Repl.Actors.Persistence;
using Repl.Actors.Storage;

namespace Repl.Actors.Etcd;

/// <summary>
/// The cluster log's Akka.Persistence journal: the sequencer's events committed to etcd, one transaction per batch
/// (etcd's Raft orders and replicates it), at the single key <c>{prefix}/log</c> whose revision history is the log.
/// </summary>
/// <remarks>
/// <para><b>One write in flight.</b> The sequencer hands its journal one write at a time (<c>PersistAllAsync</c> over
/// its own queue), so every node's publishes that arrive meanwhile go into the next transaction together. A write is
/// one transaction: the sequencer cuts its writes at <see cref="LogWriteLimits.MaxBytes"/> and <see cref="LogWriteLimits.MaxTopicChanges"/> topic
/// changes, so that each commits whole or not at all.</para>
/// <para><b>Fencing.</b> Each transaction compares the log key's mod revision with the one this journal last
/// wrote or read at recovery (the log's head), and the sequencer's lease key with the token this node put there
/// (<see cref="EtcdStore.Fence"/>): a sequencer whose lease expired, or a zombie after a partition, cannot commit,
/// and neither can a second sequencer that started from an older head.</para>
/// <para><b>Exactly once.</b> The client may resend a transaction whose answer was lost, and the first attempt may
/// have committed; the resend then fails its compare. Each transaction therefore also puts a fresh token at
/// <c>{prefix}/writer</c>, and a failed compare reads it back first: if it holds this call's token, the write did
/// commit. Any other failure leaves the head unknown, and the sequencer must recover (it stops, and its backoff
/// supervisor's next incarnation reads the head again) before it writes again.</para>
/// <para><b>Outcomes.</b> A write that fails is known to have committed nothing (<see cref="LogUnavailableException"/>)
/// when it was not sent (no lease, head unknown), failed its compare, or etcd refused the request itself
/// (<see cref="EtcdStore.TransactionAsync"/>); when its answer was lost (a deadline, a connection lost, etcd no longer
/// sure of its leader) it may still commit, and it fails with <see cref="OutcomeUnknownException"/>.</para>
/// <para><b>Positions</b> are the events' sequence numbers, stored in the batch (<see cref="LogBatchCodec"/> version 3).
/// Recovery continues after the last position in etcd, including one from a batch written before the cluster had a
/// sequencer (positions from revisions).</para>
/// <para><b>Replay</b> reads the node's local replica of the log (Repl's SQLite schema, written by its log reader from
/// etcd's watch), once the replica has caught up with the head: etcd keeps only a window of revisions, the replica all
/// that retention keeps. Recovery starts from the snapshot in etcd (<see cref="EtcdSnapshotStore"/>), so the replay is
/// the short tail after it.</para>
/// </remarks>
public sealed class EtcdJournal : AsyncWriteJournal
{
    private readonly EtcdStore _store;
    private readonly Journal _replica;
    private readonly TimeSpan _replayWait;
    private readonly string _incarnation = Guid.NewGuid().ToString("N")[..12];
    private long _sequence;
    // The log key's mod revision as of this journal's last write or read; -1: unknown, recover first.
    private long _head = -1;

    public EtcdJournal(Akka.Configuration.Config config)
    {
        _store = EtcdStore.Of(Context.System);
        _replica = NodeJournal.Of(Context.System);
        _replayWait = config.GetTimeSpan("replay-wait", TimeSpan.FromSeconds(15));
    }

    /// <remarks>
    /// One transaction per write, never more: a write split over two could fail after its first part committed, and
    /// its callers could then be told neither "committed" nor "not committed" truly. The sequencer cuts its writes to
    /// fit (<see cref="Sequencer.SequencerProtocol.Settings.MaxWriteBytes"/>); one publish batch larger than that on its own goes
    /// whole, and etcd refuses it when it is over its request limit (nothing of it committed).
    /// </remarks>
    protected override async Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var events = SqliteJournal.LogEvents(messages).ToList();
        if (events.Count > 0) await CommitAsync(events, cancellationToken).ConfigureAwait(false);
        return null!;
    }

    private async Task CommitAsync(List<(long SequenceNr, LogEvent Event)> chunk, CancellationToken cancellationToken)
    {
        long head = Interlocked.Read(ref _head);
        if (head < 0) throw new LogUnavailableException("the cluster log's head is unknown to this sequencer since a failed write; it recovers before it writes again");
        var fence = _store.Fence ?? throw new LogUnavailableException("this node does not hold the sequencer's lease; nothing was committed");
        var token = ByteString.CopyFromUtf8($"{_incarnation}:{++_sequence}");
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = _store.LogKey, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = head });
        txn.Compare.Add(new Compare { Key = fence.Key, Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = fence.Token });
        var value = LogBatchCodec.Encode(chunk[0].SequenceNr, chunk.ConvertAll(c => c.Event));
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _store.LogKey, Value = UnsafeByteOperations.UnsafeWrap(value) } });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _store.WriterKey, Value = token } });
        long last = chunk[^1].SequenceNr;
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _store.HeadKey, Value = ByteString.CopyFromUtf8(last.ToString(System.Globalization.CultureInfo.InvariantCulture)) } });
        foreach (var (position, e) in chunk)
        {
            // The create's position: a node resynchronising after a compaction tells a topic created again from the one it knew.
            if (e.Kind == LogEntryKind.CreateTopic)
                txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _store.TopicKey(e.Topic), Value = ByteString.CopyFromUtf8(position.ToString(System.Globalization.CultureInfo.InvariantCulture)) } });
            else if (e.Kind == LogEntryKind.DeleteTopic) txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = _store.TopicKey(e.Topic) } });
            // The create's position still (the entry carries it), and the settings after it: a node resynchronising after
            // a compaction takes the settings from here (EtcdLog.TopicKeyValue).
            else if (e.Kind == LogEntryKind.Settings)
                txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _store.TopicKey(e.Topic), Value = UnsafeByteOperations.UnsafeWrap(EtcdLog.TopicKeyValue(e.Through, e.Body)) } });
        }
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = _store.WriterKey } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = fence.Key, KeysOnly = true } });
        Interlocked.Exchange(ref _head, -1);
        var result = await _store.TransactionAsync(txn, cancellationToken).ConfigureAwait(false);
        if (result.Succeeded)
        {
            Interlocked.Exchange(ref _head, result.Header.Revision);
            return;
        }
        var writer = result.Responses[0].ResponseRange.Kvs.FirstOrDefault();
        if (writer is not null && writer.Value == token)
        {
            // A resent attempt of this very transaction: the first one committed.
            Interlocked.Exchange(ref _head, writer.ModRevision);
            return;
        }
        bool leaseHeld = result.Responses[1].ResponseRange.Kvs.Count > 0;
        throw new LogUnavailableException(leaseHeld
            ? "the cluster log moved on under this sequencer (another sequencer wrote, or the lease passed on); nothing was committed"
            : "this node's sequencer lease expired in etcd; nothing was committed");
    }

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        var log = await _store.GetAsync(_store.LogKey, cancellationToken).ConfigureAwait(false);
        Interlocked.Exchange(ref _head, log?.ModRevision ?? 0);
        return log is null ? 0 : LogBatchCodec.LastPosition(log.Value.Span, log.ModRevision);
    }

    public override async Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback)
    {
        if (fromSequenceNr > toSequenceNr || max <= 0) return;
        await _replica.WaitForAsync(toSequenceNr, _replayWait, "the log", CancellationToken.None).ConfigureAwait(false);
        SqliteJournal.Replay(_replica, persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback);
    }

    /// <summary>The log is trimmed per topic by retention (truncate entries) and in etcd by compaction, never by the writer deleting its own events.</summary>
    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken) =>
        Task.FromException(new NotSupportedException("the Repl log is trimmed by retention (truncate entries), not by deleting events"));
}
