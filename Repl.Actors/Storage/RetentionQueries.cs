namespace Repl.Actors.Storage;

/// <summary>Where retention (<see cref="JournalOptions.MaxMessagesPerTopic"/>, <see cref="JournalOptions.MaxAge"/>) would cut a topic.</summary>
/// <remarks>Reads only: the cut is committed as a truncate entry, and applied by whoever writes the journal.</remarks>
internal sealed class RetentionQueries
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

    /// <summary>
    /// The topics that retention would cut now (<see cref="Cut"/> above 0), by name: what the retention owner asks
    /// each round, so it wakes only those topics' entities.
    /// </summary>
    /// <remarks>
    /// Seeks on <c>(topic, pos)</c>, no scan of a topic's messages: over its age limit when its first message is older
    /// than <see cref="JournalOptions.MaxAge"/> (positions are cut in time order, so the first is the oldest); over its
    /// count when a message sits <see cref="JournalOptions.MaxMessagesPerTopic"/> rows before its last. That last check
    /// walks at most the topic's own rows, and only for a topic whose positions span the limit (n + 1 messages span at
    /// least n positions), so a topic under its limit costs two seeks.
    /// </remarks>
    public List<string> TopicsOver(DateTimeOffset now)
    {
        using var reader = _file.OpenReader();
        using var command = reader.Connection.CreateCommand();
        command.CommandText = """
            SELECT name FROM topics AS t
            WHERE ($n > 0
                   AND (SELECT pos FROM messages WHERE topic = t.name ORDER BY pos DESC LIMIT 1)
                       - (SELECT pos FROM messages WHERE topic = t.name ORDER BY pos LIMIT 1) >= $n
                   AND (SELECT pos FROM messages WHERE topic = t.name ORDER BY pos DESC LIMIT 1 OFFSET $n) IS NOT NULL)
               OR ($c > 0 AND (SELECT created FROM messages WHERE topic = t.name ORDER BY pos LIMIT 1) < $c)
            ORDER BY name
            """;
        command.Parameters.AddWithValue("$n", Math.Max(0, _options.MaxMessagesPerTopic));
        command.Parameters.AddWithValue("$c", _options.MaxAge > TimeSpan.Zero ? (now - _options.MaxAge).ToUnixTimeMilliseconds() : 0);
        using var rows = command.ExecuteReader();
        var topics = new List<string>();
        while (rows.Read()) topics.Add(rows.GetString(0));
        return topics;
    }
}
