namespace Repl.Actors.Storage;

/// <summary>
/// Akka snapshots of persistent actors (the <c>snapshots</c> table), which the SQLite snapshot store plugin reads and
/// writes: the sequencer's topic set and key window.
/// </summary>
internal sealed class SnapshotTable
{
    private readonly SqliteFile _file;

    internal SnapshotTable(SqliteFile file) => _file = file;

    /// <summary>Stores a snapshot of a persistent actor's state (the snapshot store plugin's write).</summary>
    public void Save(string persistenceId, long sequenceNr, long createdMs, int serializer, string manifest, byte[] payload)
    {
        using var _ = _file.EnterWriteGate();
        _file.Execute(null, "INSERT OR REPLACE INTO snapshots(pid, seq, created, serializer, manifest, payload) VALUES ($i, $s, $c, $z, $m, $p)",
            ("$i", persistenceId), ("$s", sequenceNr), ("$c", createdMs), ("$z", serializer), ("$m", manifest), ("$p", payload));
    }

    /// <summary>The newest snapshot at or below the bounds, or null.</summary>
    public StoredSnapshot? Load(string persistenceId, long maxSequenceNr, long maxCreatedMs)
    {
        using var reader = _file.OpenReader();
        using var command = reader.Connection.CreateCommand();
        command.CommandText = "SELECT seq, created, serializer, manifest, payload FROM snapshots WHERE pid = $i AND seq <= $s AND created <= $c ORDER BY seq DESC LIMIT 1";
        command.Parameters.AddWithValue("$i", persistenceId);
        command.Parameters.AddWithValue("$s", maxSequenceNr);
        command.Parameters.AddWithValue("$c", maxCreatedMs);
        using var rows = command.ExecuteReader();
        if (!rows.Read()) return null;
        return new StoredSnapshot(rows.GetInt64(0), rows.GetInt64(1), (int)rows.GetInt64(2), rows.GetString(3), (byte[])rows.GetValue(4));
    }

    /// <summary>Deletes the snapshots within the bounds.</summary>
    public void Delete(string persistenceId, long minSequenceNr, long maxSequenceNr, long maxCreatedMs)
    {
        using var _ = _file.EnterWriteGate();
        _file.Execute(null, "DELETE FROM snapshots WHERE pid = $i AND seq >= $a AND seq <= $s AND created <= $c",
            ("$i", persistenceId), ("$a", minSequenceNr), ("$s", maxSequenceNr), ("$c", maxCreatedMs));
    }
}
