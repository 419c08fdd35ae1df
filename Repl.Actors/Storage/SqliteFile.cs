using Microsoft.Data.Sqlite;

namespace Repl.Actors.Storage;

/// <summary>
/// The journal's SQLite file: one writer connection, pooled reader connections, and the gate writes take turns at.
/// </summary>
/// <remarks>
/// One writer at a time (callers serialise writes); reads run on their own pooled connections and see only committed
/// data. The in-memory mode uses the one connection for everything, so reads take the writers' lock.
/// </remarks>
internal sealed class SqliteFile : IDisposable
{
    private readonly string _connectionString;
    private readonly bool _inMemory;
    private readonly Lock _gate = new();

    public SqliteFile(JournalOptions options)
    {
        _inMemory = options.InMemory;
        Path = System.IO.Path.Combine(options.DataDir, "repl.db");
        if (_inMemory)
        {
            _connectionString = "Data Source=:memory:";
        }
        else
        {
            Directory.CreateDirectory(options.DataDir);
            _connectionString = new SqliteConnectionStringBuilder { DataSource = Path, Pooling = true }.ToString();
        }
        Writer = new SqliteConnection(_connectionString);
        Writer.Open();
    }

    /// <summary>The file's path (what an error about it names); unused in memory.</summary>
    public string Path { get; }

    /// <summary>The one connection writes go through, inside <see cref="EnterWriteGate"/>.</summary>
    public SqliteConnection Writer { get; }

    /// <summary>The value of a key in the <c>meta</c> table, or null.</summary>
    public long? Meta(string key)
    {
        using var command = Writer.CreateCommand();
        command.CommandText = "SELECT value FROM meta WHERE key = $k";
        command.Parameters.AddWithValue("$k", key);
        return command.ExecuteScalar() is long value ? value : null;
    }

    public void SetMeta(SqliteTransaction? transaction, string key, long value) =>
        Execute(transaction, "INSERT INTO meta(key, value) VALUES ($k, $v) ON CONFLICT(key) DO UPDATE SET value = excluded.value", ("$k", key), ("$v", value));

    /// <summary>Runs a statement on the writer connection.</summary>
    public void Execute(SqliteTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Writer.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        command.ExecuteNonQuery();
    }

    public static long ReadScalar(SqliteConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>A prepared statement on the writer connection, for a write on every batch; its owner disposes it.</summary>
    public SqliteCommand Prepare(string sql, params string[] parameters)
    {
        var command = Writer.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters) command.Parameters.Add(new SqliteParameter { ParameterName = name });
        command.Prepare();
        return command;
    }

    // Writes share one connection, so they take turns; in memory mode reads use it too.
    public Gate EnterWriteGate()
    {
        _gate.Enter();
        return new Gate(_gate);
    }

    public ReaderLease OpenReader()
    {
        if (_inMemory)
        {
            _gate.Enter();
            return new ReaderLease(Writer, null, _gate);
        }
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return new ReaderLease(connection, connection, null);
    }

    public void Dispose() => Writer.Dispose();

    public readonly struct Gate(Lock gate) : IDisposable
    {
        public void Dispose() => gate.Exit();
    }

    public readonly struct ReaderLease(SqliteConnection connection, SqliteConnection? owned, Lock? gate) : IDisposable
    {
        public SqliteConnection Connection => connection;

        public void Dispose()
        {
            owned?.Dispose();
            gate?.Exit();
        }
    }
}
