using System.Buffers.Binary;
using System.Text;
using Akka.Persistence;
using Akka.Persistence.Snapshot;
using Etcdserverpb;
using Google.Protobuf;
using Repl.Actors.Log;
using Repl.Actors.Persistence;
using Repl.Actors.Storage;

namespace Repl.Actors.Etcd;

/// <summary>
/// The cluster's shared snapshot store: the latest snapshot of each persistence id at <c>{prefix}/snapshots/{id}</c> in
/// etcd, so whichever node runs the sequencer next recovers from it. One snapshot per id: a newer one replaces the older.
/// </summary>
/// <remarks>
/// <para>Value: <c>sequenceNr:i64, createdMs:i64, serializer:i32, manifest length:i32, manifest (UTF-8), payload</c>, little-endian;
/// the payload is serialized by the serializer bound to the snapshot's type (Repl's own, <c>ReplSerializer</c>).</para>
/// <para>A save is fenced like a log write (<see cref="EtcdStore.Fence"/>): only the lease's holder writes snapshots.</para>
/// <para>The sequencer's snapshot is a few bytes (<see cref="Sequencer.SequencerProtocol.JournalSnapshot"/>): its state
/// is rebuilt from the node's replica, so a snapshot is offered only once the replica has applied its sequence number
/// (waiting up to <c>replay-wait</c>, as the journal's replay does). A snapshot over <see cref="LogWriteLimits.MaxBytes"/>
/// is refused here, with its size, rather than by etcd.</para>
/// </remarks>
public sealed class EtcdSnapshotStore : SnapshotStore
{
    private const int Header = 8 + 8 + 4 + 4;

    private readonly EtcdStore _store = EtcdStore.Of(Context.System);
    private readonly Journal _replica = NodeJournal.Of(Context.System);
    // Captured here: after an await there is no actor context to take it from.
    private readonly Akka.Serialization.Serialization _serialization = Context.System.Serialization;
    private readonly TimeSpan _replicaWait;

    public EtcdSnapshotStore(Akka.Configuration.Config config) => _replicaWait = config.GetTimeSpan("replay-wait", TimeSpan.FromSeconds(15));

    protected override async Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        if (await _store.GetAsync(_store.SnapshotKey(persistenceId), cancellationToken).ConfigureAwait(false) is not { } kv) return null;
        var value = kv.Value.Span;
        long sequenceNr = BinaryPrimitives.ReadInt64LittleEndian(value);
        var created = DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(value[8..])).UtcDateTime;
        if (sequenceNr > criteria.MaxSequenceNr || sequenceNr < criteria.MinSequenceNr || created > criteria.MaxTimeStamp) return null;
        int serializer = BinaryPrimitives.ReadInt32LittleEndian(value[16..]);
        int manifestLength = BinaryPrimitives.ReadInt32LittleEndian(value[20..]);
        string manifest = Encoding.UTF8.GetString(value.Slice(Header, manifestLength));
        var snapshot = _serialization.Deserialize(value[(Header + manifestLength)..].ToArray(), serializer, manifest);
        await _replica.WaitForAsync(sequenceNr, _replicaWait, "the snapshot", cancellationToken).ConfigureAwait(false);
        return new SelectedSnapshot(new SnapshotMetadata(persistenceId, sequenceNr, created), snapshot);
    }

    protected override async Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var fence = _store.Fence ?? throw new LogUnavailableException("this node does not hold the sequencer's lease; the snapshot was not saved");
        var serializer = _serialization.FindSerializerFor(snapshot);
        var manifest = Encoding.UTF8.GetBytes(Akka.Serialization.Serialization.ManifestFor(serializer, snapshot));
        var payload = serializer.ToBinary(snapshot);
        var value = new byte[Header + manifest.Length + payload.Length];
        if (value.Length > LogWriteLimits.MaxBytes)
            throw new InvalidOperationException($"the snapshot is {value.Length:N0} bytes, over the {LogWriteLimits.MaxBytes:N0} a request to etcd may carry; it was not saved");
        BinaryPrimitives.WriteInt64LittleEndian(value, metadata.SequenceNr);
        BinaryPrimitives.WriteInt64LittleEndian(value.AsSpan(8), new DateTimeOffset(DateTime.SpecifyKind(metadata.Timestamp, DateTimeKind.Utc)).ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(16), serializer.Identifier);
        BinaryPrimitives.WriteInt32LittleEndian(value.AsSpan(20), manifest.Length);
        manifest.CopyTo(value.AsSpan(Header));
        payload.CopyTo(value.AsSpan(Header + manifest.Length));
        var txn = new TxnRequest();
        txn.Compare.Add(new Compare { Key = fence.Key, Target = Compare.Types.CompareTarget.Value, Result = Compare.Types.CompareResult.Equal, Value = fence.Token });
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _store.SnapshotKey(metadata.PersistenceId), Value = UnsafeByteOperations.UnsafeWrap(value) } });
        var result = await _store.TransactionAsync(txn, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded) throw new LogUnavailableException("this node no longer holds the sequencer's lease; the snapshot was not saved");
    }

    /// <summary>Only the latest snapshot is kept: deleting older ones has nothing to do.</summary>
    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc cref="DeleteAsync(SnapshotMetadata, CancellationToken)"/>
    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) => Task.CompletedTask;
}
