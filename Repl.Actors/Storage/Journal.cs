using Microsoft.Data.Sqlite;
using Repl.Actors.Log;
using Repl.Actors.Sequencer;

namespace Repl.Actors.Journal;

/// <summary>
/// The node's durable history in SQLite: topics and their messages by position.
/// </summary>
/// <remarks>
/// <para>Standalone it is the log itself (<see cref="SqliteLog"/> writes through it); in cluster mode it is the
/// local replica of etcd's log, written by the applier, that serves replays older than etcd's window.</para>
/// <para>Durability: WAL with <c>synchronous=NORMAL</c>. A committed transaction survives a process crash
/// (kill -9); only an operating-system crash or power loss can lose the last transactions.</para>
/// <para>One writer at a time (callers serialise writes); reads run on their own pooled connections and see
/// only committed data. The in-memory mode uses the one connection for everything, so reads take the writers' lock.</para>
/// </remarks>
public sealed class Journal : IDisposable
{
    private readonly JournalOptions _options;
    private readonly string _connectionString;
    private readonly SqliteConnection _writer;
    private readonly Lock _gate = new();
    private SqliteCommand? _insertMessage;
    private SqliteCommand? _insertKey;
    private SqliteCommand? _expireKeys;
    private long _lastPosition;
    private long _replicaRevision;

    private Journal(JournalOptions options)
    {
        _options = options;
        if (options.InMemory)
        {
            _connectionString = "Data Source=:memory:";
        }
        else
        {
            Directory.CreateDirectory(options.DataDir);
            _connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = Path.Combine(options.DataDir, "repl.db"),
                Pooling = true,
            }.ToString();
        }
        _writer = new SqliteConnection(_connectionString);
        _writer.Open();
        Execute(_writer, null, """
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
        _lastPosition = MetaValue("last") ?? 0;
        _replicaRevision = MetaValue("revision") ?? 0;
        if (MetaValue("schema") is null) Migrate();
        // The log's identity, drawn once (a data directory from before epochs gets one the first time it opens: ids a
        // client holds from it carry none, and are checked against the head only).
        if (MetaValue("epoch") is not { } epoch)
        {
            var drawn = Messages.LogEpoch.New();
            epoch = uint.Parse(drawn.Text, System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture);
            Execute(_writer, null, "INSERT INTO meta(key, value) VALUES ('epoch', $v)", ("$v", epoch));
        }
        Epoch = Messages.LogEpoch.Of((uint)epoch);
        // Schema 2 gained the publishes' idempotency keys after its first cut; a column added in place, nullable.
        if (ReadScalar(_writer, "SELECT count(*) FROM pragma_table_info('messages') WHERE name = 'key'") == 0)
        {
            Execute(_writer, null, "ALTER TABLE messages ADD COLUMN key TEXT");
        }
        // Then the keys got a table of their own, which retention does not trim (see KeysInWindow); a journal from
        // before it has them in messages.key only, and what retention left of them there is copied once.
        if (ReadScalar(_writer, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'keys'") == 0)
        {
            using var _ = EnterWriteGate();
            using var transaction = _writer.BeginTransaction();
            Execute(_writer, transaction, """
                CREATE TABLE keys(pos INTEGER PRIMARY KEY, topic TEXT NOT NULL, key TEXT NOT NULL, created INTEGER NOT NULL);
                CREATE INDEX keys_created ON keys(created);
                INSERT INTO keys(pos, topic, key, created) SELECT pos, topic, key, created FROM messages WHERE key IS NOT NULL;
                """);
            ExpireKeys(transaction, ReadScalar(_writer, "SELECT coalesce(max(created), 0) FROM keys"));
            transaction.Commit();
        }
    }

    /// <summary>The schema this build writes: 2 added <c>events</c> (topic changes kept for replay) and <c>snapshots</c>.</summary>
    internal const long SchemaVersion = 2;

    /// <summary>
    /// A data directory written before schema 2 holds messages and the topic table but no snapshot, and its topic
    /// changes are not in <c>events</c>: the log's writer (the sequencer) could not rebuild its topic set by replay.
    /// The topic table is exactly that set at <see cref="LastPosition"/>, so it becomes the first snapshot.
    /// </summary>
    /// <remarks>The schema mark goes last: interrupted before it, the next open writes the same snapshot again.</remarks>
    private void Migrate()
    {
        if (_lastPosition > 0)
        {
            var (serializer, manifest, payload) = Serialization.ReplSerializer.SnapshotOf([.. LoadTopics().Select(topic => topic.Name)]);
            SaveSnapshot(Sequencer.SequencerActor.LogPersistenceId, _lastPosition, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), serializer, manifest, payload);
        }
        using var _ = EnterWriteGate();
        SetMeta(null, "schema", SchemaVersion);
    }

    private void SetMeta(SqliteTransaction? transaction, string key, long value) =>
        Execute(_writer, transaction, "INSERT INTO meta(key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value", ("$k", key), ("$v", value));

    private long? MetaValue(string key)
    {
        using var command = _writer.CreateCommand();
        command.CommandText = "SELECT value FROM meta WHERE key = $k";
        command.Parameters.AddWithValue("$k", key);
        return command.ExecuteScalar() is long value ? value : null;
    }

    /// <summary>Opens (or creates) the journal.</summary>
    /// <exception cref="JournalDamagedException">The file is damaged or not a database (SQLite's NOTADB or CORRUPT).</exception>
    public static Journal Open(JournalOptions options)
    {
        try
        {
            return new Journal(options);
        }
        catch (SqliteException error) when (error.SqliteErrorCode is 26 or 11 && !options.InMemory)
        {
            SqliteConnection.ClearAllPools();
            throw new JournalDamagedException(System.IO.Path.Combine(options.DataDir, "repl.db"), error);
        }
    }

    /// <summary>The identity of the log this journal holds (standalone); in cluster mode the log's is etcd's.</summary>
    public Messages.LogEpoch Epoch { get; }

    /// <summary>The options it was opened with.</summary>
    public JournalOptions Options => _options;

    /// <summary>Position of the last entry written (0 when empty).</summary>
    public long LastPosition => Volatile.Read(ref _lastPosition);

    /// <summary>
    /// Waits until this journal holds <paramref name="position"/>. Cluster mode: the replica is written by the node's log
    /// reader from etcd's watch, so on a node that just started it may be behind the log (<paramref name="what"/>).
    /// </summary>
    /// <exception cref="TimeoutException">It did not catch up within <paramref name="wait"/>.</exception>
    public async Task WaitForAsync(long position, TimeSpan wait, string what, CancellationToken cancellationToken)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (LastPosition < position)
        {
            if (waited.Elapsed > wait)
                throw new TimeoutException($"this node's replica of the log is at {LastPosition}, {what} at {position}: it did not catch up within {wait.TotalSeconds:0} s");
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Writes committed entries in one transaction, applying their effect: a publish adds a message, a create
    /// adds a topic, a delete removes a topic and all its messages.
    /// </summary>
    /// <remarks>Entries must come in position order, after <see cref="LastPosition"/>; older ones are skipped,
    /// so a cluster replica can re-apply a window it has already seen.</remarks>
    /// <param name="through">Cluster mode: the batch's last position, which the entries kept need not reach (the reader skipped some).</param>
    /// <param name="revision">Cluster mode: the etcd revision of the batch, where the node's watch resumes (<see cref="ReplicaRevision"/>).</param>
    /// <exception cref="JournalFullException">The disk is full; the transaction rolled back, the journal is as it was.</exception>
    public void Write(IReadOnlyList<LogEntry> entries, long through = 0, long revision = 0)
    {
        if (entries.Count == 0 && through <= _lastPosition && revision == 0) return;
        try
        {
            WriteTransaction(entries, through, revision);
        }
        catch (SqliteException error) when (error.SqliteErrorCode == SqliteFull && !_options.InMemory)
        {
            throw new JournalFullException(System.IO.Path.Combine(_options.DataDir, "repl.db"), error);
        }
    }

    private const int SqliteFull = 13;

    /// <summary>
    /// For tests: caps the database file at its current size (SQLite's <c>max_page_count</c> on the writer), so a write
    /// that needs a new page fails with <c>SQLITE_FULL</c> as on a full disk; false lifts the cap.
    /// </summary>
    internal void CapAtCurrentSize(bool cap)
    {
        using var _ = EnterWriteGate();
        // SQLite raises a cap below the file's size to that size; 4294967294 is its own default.
        Execute(_writer, null, cap ? "PRAGMA max_page_count = 1" : "PRAGMA max_page_count = 4294967294");
    }

    private void WriteTransaction(IReadOnlyList<LogEntry> entries, long through, long revision)
    {
        using var _ = EnterWriteGate();
        using var transaction = _writer.BeginTransaction();
        var insert = _insertMessage ??= Prepare(_writer, "INSERT INTO messages(pos, topic, created, body, key) VALUES ($p, $t, $c, $b, $k)", "$p", "$t", "$c", "$b", "$k");
        insert.Transaction = transaction;
        long last = _lastPosition;
        long newestKey = 0;
        foreach (var entry in entries)
        {
            if (entry.Position <= last) continue;
            last = entry.Position;
            switch (entry.Kind)
            {
                case LogEntryKind.Publish:
                    insert.Parameters[0].Value = entry.Position;
                    insert.Parameters[1].Value = entry.Topic;
                    insert.Parameters[2].Value = entry.CreatedAtMs;
                    insert.Parameters[3].Value = entry.Message;
                    insert.Parameters[4].Value = (object?)entry.Key ?? DBNull.Value;
                    insert.ExecuteNonQuery();
                    if (entry.Key is { } key)
                    {
                        var insertKey = _insertKey ??= Prepare(_writer, "INSERT OR REPLACE INTO keys(pos, topic, key, created) VALUES ($p, $t, $k, $c)", "$p", "$t", "$k", "$c");
                        insertKey.Transaction = transaction;
                        insertKey.Parameters[0].Value = entry.Position;
                        insertKey.Parameters[1].Value = entry.Topic;
                        insertKey.Parameters[2].Value = key;
                        insertKey.Parameters[3].Value = entry.CreatedAtMs;
                        insertKey.ExecuteNonQuery();
                        newestKey = Math.Max(newestKey, entry.CreatedAtMs);
                    }
                    break;
                case LogEntryKind.CreateTopic:
                    Execute(_writer, transaction, "INSERT OR IGNORE INTO topics(name, created) VALUES ($n, $p)", ("$n", entry.Topic), ("$p", entry.Position));
                    KeepEvent(transaction, entry);
                    break;
                case LogEntryKind.DeleteTopic:
                    Execute(_writer, transaction, "DELETE FROM messages WHERE topic = $n", ("$n", entry.Topic));
                    Execute(_writer, transaction, "DELETE FROM topics WHERE name = $n", ("$n", entry.Topic));
                    KeepEvent(transaction, entry);
                    break;
                case LogEntryKind.Truncate when entry.Topic.Length == 0:
                    Execute(_writer, transaction, "DELETE FROM messages WHERE pos <= $p", ("$p", entry.TruncatedThrough));
                    Execute(_writer, transaction, "UPDATE topics SET trimmed = max(trimmed, $p)", ("$p", entry.TruncatedThrough));
                    KeepEvent(transaction, entry);
                    break;
                case LogEntryKind.Truncate:
                    Execute(_writer, transaction, "DELETE FROM messages WHERE topic = $n AND pos <= $p", ("$n", entry.Topic), ("$p", entry.TruncatedThrough));
                    Execute(_writer, transaction, "UPDATE topics SET trimmed = max(trimmed, $p) WHERE name = $n", ("$n", entry.Topic), ("$p", entry.TruncatedThrough));
                    KeepEvent(transaction, entry);
                    break;
            }
        }
        if (newestKey > 0) ExpireKeys(transaction, newestKey);
        last = Math.Max(last, through);
        SetMeta(transaction, "last", last);
        if (revision > 0)
        {
            SetMeta(transaction, "revision", revision);
            Volatile.Write(ref _replicaRevision, revision);
        }
        transaction.Commit();
        Volatile.Write(ref _lastPosition, last);
    }

    /// <summary>Cluster mode: the etcd revision of the last batch written to this replica (0: none recorded), where the node's watch resumes.</summary>
    public long ReplicaRevision => Volatile.Read(ref _replicaRevision);

    // Topic changes are few; kept whole so that a replay of the log after a snapshot sees them (keyed publishes replay from keys).
    private void KeepEvent(SqliteTransaction transaction, LogEntry entry) =>
        Execute(_writer, transaction, "INSERT OR REPLACE INTO events(pos, kind, topic, created, through) VALUES ($p, $k, $t, $c, $h)",
            ("$p", entry.Position), ("$k", (long)entry.Kind), ("$t", entry.Topic), ("$c", entry.CreatedAtMs), ("$h", entry.Through));

    /// <summary>
    /// The log's entries with <paramref name="after"/> &lt; position ≤ <paramref name="upTo"/>, in position order, at most
    /// <paramref name="limit"/>: publishes still retained (with their message JSON) and topic changes.
    /// </summary>
    /// <remarks>Publishes removed by retention or a topic's deletion are not there: positions may skip.</remarks>
    /// <param name="bodies">False: publishes come without their message (a writer's replay needs none).</param>
    public List<LogEntry> ReadLog(long after, long upTo, int limit, bool bodies = true) => ReadEntries($"""
        SELECT pos, 1, topic, created, {(bodies ? "body" : "NULL")}, 0, key FROM messages WHERE pos > $a AND pos <= $b
        UNION ALL SELECT pos, kind, topic, created, NULL, through, NULL FROM events WHERE pos > $a AND pos <= $b
        ORDER BY 1 LIMIT $n
        """, after, upTo, limit);

    /// <summary>
    /// What the log's writer replays after <paramref name="after"/> up to <paramref name="upTo"/>, in position order, at
    /// most <paramref name="limit"/>: topic changes, and keyed publishes (without their message) from the <c>keys</c>
    /// table, so retention does not take a key still in its window. Publishes without a key change nothing the writer keeps.
    /// </summary>
    public List<LogEntry> ReadForReplay(long after, long upTo, int limit) => ReadEntries("""
        SELECT pos, 1, topic, created, NULL, 0, key FROM keys WHERE pos > $a AND pos <= $b
        UNION ALL SELECT pos, kind, topic, created, NULL, through, NULL FROM events WHERE pos > $a AND pos <= $b
        ORDER BY 1 LIMIT $n
        """, after, upTo, limit);

    /// <summary>Runs <paramref name="sql"/> (columns: pos, kind, topic, created, body, through, key; parameters $a, $b, $n) into entries.</summary>
    private List<LogEntry> ReadEntries(string sql, long after, long upTo, int limit)
    {
        using var reader = OpenReader();
        using var command = reader.Connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$a", after);
        command.Parameters.AddWithValue("$b", upTo);
        command.Parameters.AddWithValue("$n", limit);
        using var rows = command.ExecuteReader();
        var entries = new List<LogEntry>();
        while (rows.Read())
        {
            entries.Add(new LogEntry(rows.GetInt64(0), (LogEntryKind)rows.GetInt64(1), rows.GetString(2),
                rows.IsDBNull(4) ? [] : (byte[])rows.GetValue(4), rows.GetInt64(3), rows.GetInt64(5), rows.IsDBNull(6) ? null : rows.GetString(6)));
        }
        return entries;
    }

    /// <summary>The stored message JSON at a position, or null when there is none (never was, or trimmed).</summary>
    public byte[]? MessageAt(long position)
    {
        using var reader = OpenReader();
        using var command = reader.Connection.CreateCommand();
        command.CommandText = "SELECT body FROM messages WHERE pos = $p";
        command.Parameters.AddWithValue("$p", position);
        return command.ExecuteScalar() as byte[];
    }

    /// <summary>
    /// Drops the keys that left the idempotency window (<see cref="JournalOptions.IdempotencyWindow"/> before the newest
    /// key's time, as <see cref="IdempotencyWindow"/> counts it): the table holds about the window, not the log's history.
    /// </summary>
    /// <remarks>An index range at the table's old end: each write deletes what expired since the one before.</remarks>
    private void ExpireKeys(SqliteTransaction transaction, long newestMs)
    {
        var expire = _expireKeys ??= Prepare(_writer, "DELETE FROM keys WHERE created < $c", "$c");
        expire.Transaction = transaction;
        expire.Parameters[0].Value = newestMs - (long)_options.IdempotencyWindow.TotalMilliseconds;
        expire.ExecuteNonQuery();
    }

    /// <summary>
    /// The idempotency keys still in their window: publishes created at most <paramref name="window"/> before the newest
    /// key, the newest <paramref name="maxKeys"/> of them, in position order. What the sequencer rebuilds its window from.
    /// </summary>
    /// <remarks>
    /// From the <c>keys</c> table, which retention and topic deletion leave alone: a key stays live for its window even
    /// when its message was trimmed sooner.
    /// </remarks>
    public List<SequencerProtocol.IdempotencyKey> KeysInWindow(TimeSpan window, int maxKeys)
    {
        using var reader = OpenReader();
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
        var keys = new List<SequencerProtocol.IdempotencyKey>();
        while (rows.Read()) keys.Add(new SequencerProtocol.IdempotencyKey(rows.GetString(0), rows.GetString(1), rows.GetInt64(2), rows.GetInt64(3)));
        return keys;
    }

    /// <summary>Stores a snapshot of a persistent actor's state (the snapshot store plugin's write).</summary>
    public void SaveSnapshot(string persistenceId, long sequenceNr, long createdMs, int serializer, string manifest, byte[] payload)
    {
        using var _ = EnterWriteGate();
        Execute(_writer, null, "INSERT OR REPLACE INTO snapshots(pid, seq, created, serializer, manifest, payload) VALUES ($i, $s, $c, $z, $m, $p)",
            ("$i", persistenceId), ("$s", sequenceNr), ("$c", createdMs), ("$z", serializer), ("$m", manifest), ("$p", payload));
    }

    /// <summary>The newest snapshot at or below the bounds, or null.</summary>
    public StoredSnapshot? LoadSnapshot(string persistenceId, long maxSequenceNr, long maxCreatedMs)
    {
        using var reader = OpenReader();
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
    public void DeleteSnapshots(string persistenceId, long minSequenceNr, long maxSequenceNr, long maxCreatedMs)
    {
        using var _ = EnterWriteGate();
        Execute(_writer, null, "DELETE FROM snapshots WHERE pid = $i AND seq >= $a AND seq <= $s AND created <= $c",
            ("$i", persistenceId), ("$a", minSequenceNr), ("$s", maxSequenceNr), ("$c", maxCreatedMs));
    }

    /// <summary>All topics, with their retention marks.</summary>
    public List<TopicRecord> LoadTopics()
    {
        using var reader = OpenReader();
        using var command = reader.Connection.CreateCommand();
        command.CommandText = "SELECT name, created, trimmed FROM topics ORDER BY name";
        using var rows = command.ExecuteReader();
        var topics = new List<TopicRecord>();
        while (rows.Read())
        {
            topics.Add(new TopicRecord(rows.GetString(0), rows.GetInt64(1), rows.GetInt64(2)));
        }
        return topics;
    }

    /// <summary>
    /// Messages of the given topics with <paramref name="after"/> &lt; position ≤ <paramref name="upTo"/>, in position order.
    /// </summary>
    /// <param name="maxBytes">Stop after the message that brings the total JSON size to this (the page is then shorter than <paramref name="limit"/>).</param>
    public List<StoredMessage> Read(IReadOnlyList<string> topics, long after, long upTo, int limit, long maxBytes = long.MaxValue)
    {
        using var reader = OpenReader();
        using var command = reader.Connection.CreateCommand();
        var names = new string[topics.Count];
        for (int i = 0; i < topics.Count; i++)
        {
            names[i] = "$t" + i;
            command.Parameters.AddWithValue(names[i], topics[i]);
        }
        // One topic: the (topic, pos) index answers in order. Several: SQLite merges the index ranges.
        command.CommandText = $"SELECT pos, topic, body FROM messages WHERE topic IN ({string.Join(',', names)}) AND pos > $after AND pos <= $upTo ORDER BY pos LIMIT $limit";
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$upTo", upTo);
        command.Parameters.AddWithValue("$limit", limit);
        using var rows = command.ExecuteReader();
        var messages = new List<StoredMessage>();
        long bytes = 0;
        while (bytes < maxBytes && rows.Read())
        {
            var json = (byte[])rows.GetValue(2);
            messages.Add(new StoredMessage(rows.GetInt64(0), rows.GetString(1), json));
            bytes += json.Length;
        }
        return messages;
    }

    /// <summary>The first position of a topic's retained history (0 when it has none).</summary>
    /// <remarks>
    /// One seek on <c>(topic, pos)</c>, where <see cref="Stats"/> counts the topic's messages: a history page needs only
    /// this, and the count made every page cost the topic's size (the count alone took 21 ms at 100,000 messages on the bench
    /// machine, the seek 0.07 ms, whatever the page's limit).
    /// </remarks>
    public long FirstPosition(string topic)
    {
        using var reader = OpenReader();
        return ReadScalar(reader.Connection, "SELECT coalesce((SELECT pos FROM messages WHERE topic = $t ORDER BY pos LIMIT 1), 0)", ("$t", topic));
    }

    /// <summary>Count and first/last positions of a topic's retained history.</summary>
    public TopicStats Stats(string topic)
    {
        using var reader = OpenReader();
        using var command = reader.Connection.CreateCommand();
        command.CommandText = "SELECT count(*), coalesce(min(pos), 0), coalesce(max(pos), 0) FROM messages WHERE topic = $t";
        command.Parameters.AddWithValue("$t", topic);
        using var rows = command.ExecuteReader();
        rows.Read();
        return new TopicStats(rows.GetInt64(0), rows.GetInt64(1), rows.GetInt64(2));
    }

    /// <summary>
    /// Where retention would cut a topic now: the last position beyond the configured count or age (0: nothing to cut).
    /// Reads only; the cut is committed as a truncate entry, and applied by whoever writes the journal.
    /// </summary>
    public long RetentionCut(string topic, DateTimeOffset now)
    {
        using var reader = OpenReader();
        long cut = 0;
        if (_options.MaxMessagesPerTopic > 0)
        {
            cut = ReadScalar(reader.Connection, "SELECT coalesce((SELECT pos FROM messages WHERE topic = $t ORDER BY pos DESC LIMIT 1 OFFSET $n), 0)",
                ("$t", topic), ("$n", _options.MaxMessagesPerTopic));
        }
        if (_options.MaxAge > TimeSpan.Zero)
        {
            var oldest = (now - _options.MaxAge).ToUnixTimeMilliseconds();
            cut = Math.Max(cut, ReadScalar(reader.Connection, "SELECT coalesce(max(pos), 0) FROM messages WHERE topic = $t AND created < $c", ("$t", topic), ("$c", oldest)));
        }
        return cut;
    }

    /// <summary>Size of the database file in bytes.</summary>
    public long SizeBytes()
    {
        using var reader = OpenReader();
        using var command = reader.Connection.CreateCommand();
        command.CommandText = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
        return (long)command.ExecuteScalar()!;
    }

    public void Dispose()
    {
        using var _ = EnterWriteGate();
        _insertMessage?.Dispose();
        _insertKey?.Dispose();
        _expireKeys?.Dispose();
        _writer.Dispose();
    }

    private static long ReadScalar(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        return (long)command.ExecuteScalar()!;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        command.ExecuteNonQuery();
    }

    private static SqliteCommand Prepare(SqliteConnection connection, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters) command.Parameters.Add(new SqliteParameter { ParameterName = name });
        command.Prepare();
        return command;
    }

    // Writes share one connection, so they take turns; in memory mode reads use it too.
    private Gate EnterWriteGate()
    {
        _gate.Enter();
        return new Gate(_gate);
    }

    private ReaderLease OpenReader()
    {
        if (_options.InMemory)
        {
            _gate.Enter();
            return new ReaderLease(_writer, null, _gate);
        }
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return new ReaderLease(connection, connection, null);
    }

    private readonly struct Gate(Lock gate) : IDisposable
    {
        public void Dispose() => gate.Exit();
    }

    private readonly struct ReaderLease(SqliteConnection connection, SqliteConnection? owned, Lock? gate) : IDisposable
    {
        public SqliteConnection Connection => connection;

        public void Dispose()
        {
            owned?.Dispose();
            gate?.Exit();
        }
    }
}
