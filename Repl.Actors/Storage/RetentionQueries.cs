namespace Repl.Actors.Storage;

/// <summary>
/// Where retention would cut a topic: at its own limits where its settings have them, else the node's
/// (<see cref="JournalOptions.MaxMessagesPerTopic"/>, <see cref="JournalOptions.MaxAge"/>).
/// </summary>
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

    /// <summary>
    /// The last position of <paramref name="topic"/> beyond its count or age limit now (0: nothing to cut): the topic's
    /// own retention where it has one (its settings' <c>maxMessages</c>, <c>maxAgeMs</c>), else the node's.
    /// </summary>
    public long Cut(string topic, DateTimeOffset now)
    {
        using var reader = _file.OpenReader();
        var (maxMessages, maxAge) = Limits(reader.Connection, topic);
        long cut = 0;
        if (maxMessages > 0)
        {
            cut = SqliteFile.ReadScalar(reader.Connection, "SELECT coalesce((SELECT pos FROM messages WHERE topic = $t ORDER BY pos DESC LIMIT 1 OFFSET $n), 0)",
                ("$t", topic), ("$n", maxMessages));
        }
        if (maxAge > TimeSpan.Zero)
        {
            var oldest = (now - maxAge).ToUnixTimeMilliseconds();
            cut = Math.Max(cut, SqliteFile.ReadScalar(reader.Connection, "SELECT coalesce(max(pos), 0) FROM messages WHERE topic = $t AND created < $c", ("$t", topic), ("$c", oldest)));
        }
        return cut;
    }

    /// <summary>The topic's retention: its own settings' limits where set, else the node's.</summary>
    private (long MaxMessages, TimeSpan MaxAge) Limits(Microsoft.Data.Sqlite.SqliteConnection connection, string topic)
    {
        long maxMessages = _options.MaxMessagesPerTopic;
        var maxAge = _options.MaxAge;
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT json_extract(settings, '$.maxMessages'), json_extract(settings, '$.maxAgeMs') FROM topics WHERE name = $t AND settings IS NOT NULL";
        command.Parameters.AddWithValue("$t", topic);
        using var rows = command.ExecuteReader();
        if (rows.Read())
        {
            if (!rows.IsDBNull(0)) maxMessages = rows.GetInt64(0);
            if (!rows.IsDBNull(1)) maxAge = TimeSpan.FromMilliseconds(rows.GetInt64(1));
        }
        return (maxMessages, maxAge);
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
    /// least n positions), so a topic under its limit costs two seeks. A topic with retention of its own (few: set one by
    /// one with <c>PATCH</c>) is asked apart, with <see cref="Cut"/>: SQLite's <c>OFFSET</c> cannot take a row's value.
    /// </remarks>
    public List<string> TopicsOver(DateTimeOffset now)
    {
        using var reader = _file.OpenReader();
        using var command = reader.Connection.CreateCommand();
        command.CommandText = """
            SELECT name FROM topics AS t
            WHERE (settings IS NULL OR (json_extract(settings, '$.maxMessages') IS NULL AND json_extract(settings, '$.maxAgeMs') IS NULL))
              AND (($n > 0
                   AND (SELECT pos FROM messages WHERE topic = t.name ORDER BY pos DESC LIMIT 1)
                       - (SELECT pos FROM messages WHERE topic = t.name ORDER BY pos LIMIT 1) >= $n
                   AND (SELECT pos FROM messages WHERE topic = t.name ORDER BY pos DESC LIMIT 1 OFFSET $n) IS NOT NULL)
               OR ($c > 0 AND (SELECT created FROM messages WHERE topic = t.name ORDER BY pos LIMIT 1) < $c))
            ORDER BY name
            """;
        command.Parameters.AddWithValue("$n", Math.Max(0, _options.MaxMessagesPerTopic));
        command.Parameters.AddWithValue("$c", _options.MaxAge > TimeSpan.Zero ? (now - _options.MaxAge).ToUnixTimeMilliseconds() : 0);
        var topics = new List<string>();
        using (var rows = command.ExecuteReader())
        {
            while (rows.Read()) topics.Add(rows.GetString(0));
        }
        var own = new List<string>();
        using (var withOwn = reader.Connection.CreateCommand())
        {
            withOwn.CommandText = """
                SELECT name FROM topics
                WHERE settings IS NOT NULL AND (json_extract(settings, '$.maxMessages') IS NOT NULL OR json_extract(settings, '$.maxAgeMs') IS NOT NULL)
                """;
            using var rows = withOwn.ExecuteReader();
            while (rows.Read()) own.Add(rows.GetString(0));
        }
        if (own.Count == 0) return topics;
        topics.AddRange(own.Where(topic => Cut(topic, now) > 0));
        topics.Sort(StringComparer.Ordinal);
        return topics;
    }
}
