using Repl.Actors.Log;
using Repl.Actors.Messages;

namespace Repl.Actors.Storage;

/// <summary>The journal's tables, and the migrations of a data directory written by an older build.</summary>
internal static class JournalSchema
{
    /// <summary>The schema this build writes: 2 added <c>events</c> (topic changes kept for replay) and <c>snapshots</c>.</summary>
    public const long Version = 2;

    /// <summary>Creates what is missing and migrates what is old; returns the log's identity.</summary>
    public static LogEpoch Apply(SqliteFile file, SnapshotTable snapshots, KeyTable keys)
    {
        file.Execute(null, """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            PRAGMA busy_timeout=5000;
            CREATE TABLE IF NOT EXISTS topics(name TEXT PRIMARY KEY, created INTEGER NOT NULL, trimmed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS messages(pos INTEGER PRIMARY KEY, topic TEXT NOT NULL, created INTEGER NOT NULL, body BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS messages_topic ON messages(topic, pos);
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS events(pos INTEGER PRIMARY KEY, kind INTEGER NOT NULL, topic TEXT NOT NULL, created INTEGER NOT NULL, through INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS snapshots(pid TEXT NOT NULL, seq INTEGER NOT NULL, created INTEGER NOT NULL, serializer INTEGER NOT NULL,
                manifest TEXT NOT NULL, payload BLOB NOT NULL, PRIMARY KEY(pid, seq)) WITHOUT ROWID;
            """);
        if (file.Meta("schema") is null) SnapshotTheTopicTable(file, snapshots);
        // The log's identity, drawn once (a data directory from before epochs gets one the first time it opens: ids a
        // client holds from it carry none, and are checked against the head only).
        if (file.Meta("epoch") is not { } epoch)
        {
            var drawn = LogEpoch.New();
            epoch = uint.Parse(drawn.Text, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture);
            file.Execute(null, "INSERT INTO meta(key, value) VALUES ('epoch', $v)", ("$v", epoch));
        }
        // Schema 2 gained the publishes' idempotency keys after its first cut; a column added in place, nullable.
        if (SqliteFile.ReadScalar(file.Writer, "SELECT count(*) FROM pragma_table_info('messages') WHERE name = 'key'") == 0)
        {
            file.Execute(null, "ALTER TABLE messages ADD COLUMN key TEXT");
        }
        // Topics' own settings came later still: the settings entry's JSON on its topic's row (what recovery reads) and
        // on its event (what a replay after a snapshot reads). Both nullable, added in place; an older journal has none.
        if (SqliteFile.ReadScalar(file.Writer, "SELECT count(*) FROM pragma_table_info('topics') WHERE name = 'settings'") == 0)
        {
            file.Execute(null, "ALTER TABLE topics ADD COLUMN settings TEXT");
        }
        if (SqliteFile.ReadScalar(file.Writer, "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'body'") == 0)
        {
            file.Execute(null, "ALTER TABLE events ADD COLUMN body BLOB");
        }
        // Then the keys got a table of their own, which retention does not trim (see KeyTable); a journal from
        // before it has them in messages.key only, and what retention left of them there is copied once.
        if (SqliteFile.ReadScalar(file.Writer, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'keys'") == 0)
        {
            using var _ = file.EnterWriteGate();
            using var transaction = file.Writer.BeginTransaction();
            file.Execute(transaction, """
                CREATE TABLE keys(pos INTEGER PRIMARY KEY, topic TEXT NOT NULL, key TEXT NOT NULL, created INTEGER NOT NULL);
                CREATE INDEX keys_created ON keys(created);
                INSERT INTO keys(pos, topic, key, created) SELECT pos, topic, key, created FROM messages WHERE key IS NOT NULL;
                """);
            keys.Expire(transaction, SqliteFile.ReadScalar(file.Writer, "SELECT coalesce(max(created), 0) FROM keys"));
            transaction.Commit();
        }
        return LogEpoch.Of((uint)epoch);
    }

    /// <summary>
    /// A data directory written before schema 2 holds messages and the topic table but no snapshot, and its topic
    /// changes are not in <c>events</c>: the log's writer (the sequencer) could not rebuild its topic set by replay.
    /// The topic table is exactly that set at the last position, so it becomes the first snapshot.
    /// </summary>
    /// <remarks>The schema mark goes last: interrupted before it, the next open writes the same snapshot again.</remarks>
    private static void SnapshotTheTopicTable(SqliteFile file, SnapshotTable snapshots)
    {
        if (file.Meta("last") is > 0 and var last)
        {
            var topics = new List<string>();
            using (var command = file.Writer.CreateCommand())
            {
                command.CommandText = "SELECT name FROM topics ORDER BY name";
                using var rows = command.ExecuteReader();
                while (rows.Read()) topics.Add(rows.GetString(0));
            }
            var (serializer, manifest, payload) = LogPersistence.SnapshotOf(topics);
            snapshots.Save(LogPersistence.PersistenceId, last, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), serializer, manifest, payload);
        }
        using var _ = file.EnterWriteGate();
        file.SetMeta(null, "schema", Version);
    }
}
