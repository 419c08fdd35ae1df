namespace Repl.Actors.Storage;

/// <summary>Where retention (<see cref="JournalOptions.MaxMessagesPerTopic"/>, <see cref="JournalOptions.MaxAge"/>) would cut a topic.</summary>
/// <remarks>Reads only: the cut is committed as a truncate entry, and applied by whoever writes the journal.</remarks>
public sealed class RetentionQueries
{
    private readonly SqliteFile _file;
    private readonly JournalOptions _options;

    internal RetentionQueries(SqliteFile file, JournalOptions options)
    {
        _file = file;
        _options = options;
    }

    /// <summary>The last position of <paramref name="topic"/> beyond the configured count or age now (0: nothing to cut).</summary>
    public long Cut(string topic, DateTimeOffset now)
    {
        using var reader = _file.OpenReader();
        long cut = 0;
        if (_options.MaxMessagesPerTopic > 0)
        {
            cut = SqliteFile.ReadScalar(reader.Connection, "SELECT coalesce((SELECT pos FROM messages WHERE topic = $t ORDER BY pos DESC LIMIT 1 OFFSET $n), 0)",
                ("$t", topic), ("$n", _options.MaxMessagesPerTopic));
        }
        if (_options.MaxAge > TimeSpan.Zero)
        {
            var oldest = (now - _options.MaxAge).ToUnixTimeMilliseconds();
            cut = Math.Max(cut, SqliteFile.ReadScalar(reader.Connection, "SELECT coalesce(max(pos), 0) FROM messages WHERE topic = $t AND created < $c", ("$t", topic), ("$c", oldest)));
        }
        return cut;
    }
}
