using System.Text;
using Repl.Actors.Storage;
using Repl.Actors.Log;

namespace Repl.Actors.Tests.Storage;

public sealed class JournalTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "repl-tests", Guid.NewGuid().ToString("N"));

    private static LogEntry Publish(long position, string topic, long createdAtMs = 0) =>
        new(position, LogEntryKind.Publish, topic, Encoding.UTF8.GetBytes($"{{\"id\":\"{position}\"}}"), createdAtMs);

    private static LogEntry Create(long position, string topic) => new(position, LogEntryKind.CreateTopic, topic, [], 0);

    [Fact]
    public void Write_SurvivesReopening()
    {
        using (var journal = Repl.Actors.Storage.Journal.Open(new JournalOptions { DataDir = _dir }))
        {
            journal.Write([Create(1, "a"), Publish(2, "a"), Publish(3, "a")]);
        }
        using var reopened = Repl.Actors.Storage.Journal.Open(new JournalOptions { DataDir = _dir });
        Assert.Equal(3, reopened.LastPosition);
        Assert.Equal(["a"], reopened.LoadTopics().Select(topic => topic.Name));
        Assert.Equal([2L, 3L], reopened.Read(["a"], 0, long.MaxValue, 10).Select(message => message.Position));
    }

    [Fact]
    public void Keys_OutliveRetention_LeaveWithTheirWindow_AndAreCopiedFromAnOlderJournal()
    {
        var window = TimeSpan.FromMinutes(10);
        long t0 = 1_000_000;
        using (var journal = Repl.Actors.Storage.Journal.Open(new JournalOptions { DataDir = _dir, IdempotencyWindow = window }))
        {
            journal.Write([Create(1, "a"), Publish(2, "a", t0) with { Key = "k2" }, Publish(3, "a", t0 + 1) with { Key = "k3" }, Publish(4, "a", t0 + 2)]);
            journal.Write([new LogEntry(5, LogEntryKind.Truncate, "a", [], t0 + 3, 4)]);
            Assert.Empty(journal.Read(["a"], 0, long.MaxValue, 10));
            Assert.Equal(["k2", "k3"], journal.Keys.InWindow(window, 100).Select(key => key.Key));
            Assert.Equal(["k3"], journal.Keys.InWindow(window, 1).Select(key => key.Key));
            // The replay sees the keys and the topic changes, not the trimmed message or the unkeyed publish.
            Assert.Equal([1L, 2L, 3L, 5L], journal.ReadForReplay(0, 10, 100).Select(entry => entry.Position));
            // A key published a window after k2 and k3 sends them out of the table.
            journal.Write([Publish(6, "a", t0 + 2 + (long)window.TotalMilliseconds) with { Key = "k6" }]);
            Assert.Equal(["k6"], journal.Keys.InWindow(window, 100).Select(key => key.Key));
        }
        // A journal from before the keys table: its keys are copied from messages.key when it opens.
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_dir, "repl.db")};Pooling=False"))
        {
            connection.Open();
            using var drop = connection.CreateCommand();
            drop.CommandText = "DROP TABLE keys";
            drop.ExecuteNonQuery();
        }
        using var reopened = Repl.Actors.Storage.Journal.Open(new JournalOptions { DataDir = _dir, IdempotencyWindow = window });
        Assert.Equal([("a", "k6", 6L)], reopened.Keys.InWindow(window, 100).Select(key => (key.Topic, key.Key, key.Position)));
    }

    [Fact]
    public void Write_SkipsEntriesAlreadyWritten()
    {
        using var journal = Repl.Actors.Storage.Journal.Open(new JournalOptions { InMemory = true });
        journal.Write([Create(1, "a"), Publish(2, "a")]);
        journal.Write([Publish(2, "a"), Publish(3, "a")]);
        Assert.Equal(2, journal.Stats("a").Messages);
    }

    [Fact]
    public void Read_MergesTopicsInPositionOrder_WithinBounds()
    {
        using var journal = Repl.Actors.Storage.Journal.Open(new JournalOptions { InMemory = true });
        journal.Write([Create(1, "a"), Create(2, "b"), Publish(3, "a"), Publish(4, "b"), Publish(5, "a"), Publish(6, "b")]);
        Assert.Equal([4L, 5L], journal.Read(["a", "b"], 3, 5, 10).Select(message => message.Position));
        Assert.Equal([3L, 4L], journal.Read(["b", "a"], 0, 10, 2).Select(message => message.Position));
    }

    [Fact]
    public void Read_StopsAtTheByteBudget()
    {
        using var journal = Repl.Actors.Storage.Journal.Open(new JournalOptions { InMemory = true });
        journal.Write([Create(1, "a"), .. Enumerable.Range(2, 10).Select(position => Publish(position, "a"))]);
        // Each message is {"id":"N"} (10 bytes): a 25-byte budget stops after the third.
        Assert.Equal([2L, 3L, 4L], journal.Read(["a"], 0, long.MaxValue, 100, maxBytes: 25).Select(message => message.Position));
    }

    [Fact]
    public void DeleteTopic_RemovesItsHistory()
    {
        using var journal = Repl.Actors.Storage.Journal.Open(new JournalOptions { InMemory = true });
        journal.Write([Create(1, "a"), Publish(2, "a"), new LogEntry(3, LogEntryKind.DeleteTopic, "a", [], 0)]);
        Assert.Empty(journal.LoadTopics());
        Assert.Equal(0, journal.Stats("a").Messages);
    }

    [Fact]
    public void RetentionCut_ByCount_KeepsTheNewest_AndATruncateEntryRecordsTheCut()
    {
        using var journal = Repl.Actors.Storage.Journal.Open(new JournalOptions { InMemory = true, MaxMessagesPerTopic = 3, MaxAge = TimeSpan.Zero });
        journal.Write([Create(1, "a"), .. Enumerable.Range(2, 10).Select(position => Publish(position, "a"))]);
        long cut = journal.Retention.Cut("a", DateTimeOffset.UtcNow);
        Assert.Equal(8, cut);
        Assert.Equal(10, journal.Stats("a").Messages); // deciding removes nothing
        journal.Write([new LogEntry(12, LogEntryKind.Truncate, "a", [], 0, Through: cut)]);
        Assert.Equal(new TopicStats(3, 9, 11), journal.Stats("a"));
        Assert.Equal(8, journal.LoadTopics().Single().TrimmedThrough);
        Assert.Equal([LogEntryKind.CreateTopic, LogEntryKind.Truncate], journal.ReadLog(0, 12, 100, bodies: false).Where(e => e.Kind != LogEntryKind.Publish).Select(e => e.Kind));
    }

    [Fact]
    public void RetentionCut_ByAge_CutsOlderMessages()
    {
        var now = DateTimeOffset.UtcNow;
        using var journal = Repl.Actors.Storage.Journal.Open(new JournalOptions { InMemory = true, MaxMessagesPerTopic = 0, MaxAge = TimeSpan.FromHours(1) });
        long old = now.AddHours(-2).ToUnixTimeMilliseconds(), fresh = now.ToUnixTimeMilliseconds();
        journal.Write([Create(1, "a"), Publish(2, "a", old), Publish(3, "a", old), Publish(4, "a", fresh)]);
        Assert.Equal(3, journal.Retention.Cut("a", now));
    }

    [Fact]
    public void TopicsOverRetention_NamesOnlyTheTopicsOverTheirCountOrAge_UntilTheyAreCut()
    {
        var now = DateTimeOffset.UtcNow;
        long old = now.AddHours(-2).ToUnixTimeMilliseconds(), fresh = now.ToUnixTimeMilliseconds();
        using var journal = Repl.Actors.Storage.Journal.Open(new JournalOptions { InMemory = true, MaxMessagesPerTopic = 3, MaxAge = TimeSpan.FromHours(1) });
        journal.Write([Create(1, "count"), Create(2, "at-limit"), Create(3, "age"), Create(4, "sparse"), Create(5, "empty"),
            Publish(6, "sparse", fresh), Publish(7, "age", old), Publish(8, "age", fresh),
            .. Enumerable.Range(9, 4).Select(position => Publish(position, "count", fresh)),
            .. Enumerable.Range(13, 3).Select(position => Publish(position, "at-limit", fresh)),
            Publish(16, "sparse", fresh)]);

        // "sparse" spans more positions than the limit with two messages: under it.
        Assert.Equal(["age", "count"], journal.Retention.TopicsOver(now));

        journal.Write([new LogEntry(17, LogEntryKind.Truncate, "count", [], 0, Through: journal.Retention.Cut("count", now)),
            new LogEntry(18, LogEntryKind.Truncate, "age", [], 0, Through: journal.Retention.Cut("age", now))]);
        Assert.Empty(journal.Retention.TopicsOver(now));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
