using Microsoft.Data.Sqlite;
using Repl.Actors.Log;

namespace Repl.Actors.Storage;

/// <summary>
/// The publishes' idempotency keys (the <c>keys</c> table): what the sequencer rebuilds its window from.
/// </summary>
/// <remarks>
/// Retention and topic deletion leave this table alone: a key stays live for its window even when its message was
/// trimmed sooner. Each write drops what left the window, so it holds about the window, not the log's history.
/// </remarks>
internal sealed class KeyTable : IDisposable
{
    private readonly SqliteFile _file;
    private readonly TimeSpan _window;
    private SqliteCommand? _insert;
    private SqliteCommand? _expire;

    internal KeyTable(SqliteFile file, TimeSpan window)
    {
        _file = file;
        _window = window;
    }

    /// <summary>Adds a keyed publish, in the journal's write transaction.</summary>
    internal void Insert(SqliteTransaction transaction, LogEntry entry, string key)
    {
        var insert = _insert ??= _file.Prepare("INSERT OR REPLACE INTO keys(pos, topic, key, created) VALUES ($p, $t, $k, $c)", "$p", "$t", "$k", "$c");
        insert.Transaction = transaction;
        insert.Parameters[0].Value = entry.Position;
        insert.Parameters[1].Value = entry.Topic;
        insert.Parameters[2].Value = key;
        insert.Parameters[3].Value = entry.CreatedAtMs;
        insert.ExecuteNonQuery();
    }

    /// <summary>
    /// Drops the keys that left the idempotency window (<see cref="JournalOptions.IdempotencyWindow"/> before the newest
    /// key's time, as <see cref="IdempotencyWindow"/> counts it).
    /// </summary>
    /// <remarks>An index range at the table's old end: each write deletes what expired since the one before.</remarks>
    internal void Expire(SqliteTransaction transaction, long newestMs)
    {
        var expire = _expire ??= _file.Prepare("DELETE FROM keys WHERE created < $c", "$c");
        expire.Transaction = transaction;
        expire.Parameters[0].Value = newestMs - (long)_window.TotalMilliseconds;
        expire.ExecuteNonQuery();
    }

    /// <summary>
    /// The idempotency keys still in their window: publishes created at most <paramref name="window"/> before the newest
    /// key, the newest <paramref name="maxKeys"/> of them, in position order. What the sequencer rebuilds its window from.
    /// </summary>
    public List<IdempotencyKey> InWindow(TimeSpan window, int maxKeys)
    {
        using var reader = _file.OpenReader();
        using var command = reader.Connection.CreateCommand();
        // In the table's own order (its primary key), from the newest maxKeys on: no temporary b-tree to sort the window in.
        command.CommandText = """
            SELECT topic, key, pos, created FROM keys
            WHERE pos >= coalesce((SELECT pos FROM keys ORDER BY pos DESC LIMIT 1 OFFSET $n - 1), 0)
              AND created >= (SELECT coalesce(max(created), 0) FROM keys) - $w
            ORDER BY pos
            """;
        command.Parameters.AddWithValue("$w", (long)window.TotalMilliseconds);
        command.Parameters.AddWithValue("$n", maxKeys);
        using var rows = command.ExecuteReader();
        var keys = new List<IdempotencyKey>();
        while (rows.Read()) keys.Add(new IdempotencyKey(rows.GetString(0), rows.GetString(1), rows.GetInt64(2), rows.GetInt64(3)));
        return keys;
    }

    /// <summary>Disposes the prepared statements; the journal calls it inside its write gate.</summary>
    public void Dispose()
    {
        _insert?.Dispose();
        _expire?.Dispose();
    }
}
