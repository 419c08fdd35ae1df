using Akka.Persistence;
using Akka.Persistence.Snapshot;
using Akka.Serialization;
using Repl.Actors.Storage;

namespace Repl.Actors.Persistence;

/// <summary>Snapshots in the journal's SQLite file (<c>snapshots</c> table), serialized by the serializer bound to their type.</summary>
public sealed class SqliteSnapshotStore : SnapshotStore
{
    private readonly Journal _journal = NodeJournal.Of(Context.System);

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        var stored = _journal.Snapshots.Load(persistenceId, criteria.MaxSequenceNr, UnixMs(criteria.MaxTimeStamp));
        if (stored is null) return Task.FromResult<SelectedSnapshot?>(null);
        var snapshot = Context.System.Serialization.Deserialize(stored.Payload, stored.Serializer, stored.Manifest);
        var metadata = new SnapshotMetadata(persistenceId, stored.SequenceNr, DateTimeOffset.FromUnixTimeMilliseconds(stored.CreatedMs).UtcDateTime);
        return Task.FromResult<SelectedSnapshot?>(new SelectedSnapshot(metadata, snapshot));
    }

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var serializer = Context.System.Serialization.FindSerializerFor(snapshot);
        _journal.Snapshots.Save(metadata.PersistenceId, metadata.SequenceNr, UnixMs(metadata.Timestamp), serializer.Identifier,
            Akka.Serialization.Serialization.ManifestFor(serializer, snapshot), serializer.ToBinary(snapshot));
        return Task.CompletedTask;
    }

    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        _journal.Snapshots.Delete(metadata.PersistenceId, metadata.SequenceNr, metadata.SequenceNr, long.MaxValue);
        return Task.CompletedTask;
    }

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        _journal.Snapshots.Delete(persistenceId, criteria.MinSequenceNr, criteria.MaxSequenceNr, UnixMs(criteria.MaxTimeStamp));
        return Task.CompletedTask;
    }

    private static long UnixMs(DateTime time) =>
        time >= DateTime.MaxValue.AddDays(-1) ? long.MaxValue : new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)).ToUnixTimeMilliseconds();
}
