using System.Text;
using Repl.Actors.Journal;
using Repl.Actors.Log;

namespace Repl.Actors.Tests.Journal;

public sealed class JournalTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "repl-tests", Guid.NewGuid().ToString("N"));

    private static LogEntry Publish(long position, string topic, long createdAtMs = 0) =>
        new(position, LogEntryKind.Publish, topic, Encoding.UTF8.GetBytes($"{{\"id\":\"{position}\"}}"), createdAtMs);

    private static LogEntry Create(long position, string topic) => new(position, LogEntryKind.CreateTopic, topic, [], 0);

    [Fact]
    public void Write_SurvivesReopening()
    {
        using (var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { DataDir = _dir }))
        {
            journal.Write([Create(1, "a"), Publish(2, "a"), Publish(3, "a")]);
        }
        using var reopened = Repl.Actors.Journal.Journal.Open(new JournalOptions { DataDir = _dir });
        Assert.Equal(3, reopened.LastPosition);
        Assert.Equal(["a"], reopened.LoadTopics().Select(topic => topic.Name));
        Assert.Equal([2L, 3L], reopened.Read(["a"], 0, long.MaxValue, 10).Select(message => message.Position));
    }

    [Fact]
    public void Write_SkipsEntriesAlreadyWritten()
    {
        using var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true });
        journal.Write([Create(1, "a"), Publish(2, "a")]);
        journal.Write([Publish(2, "a"), Publish(3, "a")]);
        Assert.Equal(2, journal.Stats("a").Messages);
    }

    [Fact]
    public void Read_MergesTopicsInPositionOrder_WithinBounds()
    {
        using var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true });
        journal.Write([Create(1, "a"), Create(2, "b"), Publish(3, "a"), Publish(4, "b"), Publish(5, "a"), Publish(6, "b")]);
        Assert.Equal([4L, 5L], journal.Read(["a", "b"], 3, 5, 10).Select(message => message.Position));
        Assert.Equal([3L, 4L], journal.Read(["b", "a"], 0, 10, 2).Select(message => message.Position));
    }

    [Fact]
    public void Read_StopsAtTheByteBudget()
    {
        using var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true });
        journal.Write([Create(1, "a"), .. Enumerable.Range(2, 10).Select(position => Publish(position, "a"))]);
        // Each message is {"id":"N"} (10 bytes): a 25-byte budget stops after the third.
        Assert.Equal([2L, 3L, 4L], journal.Read(["a"], 0, long.MaxValue, 100, maxBytes: 25).Select(message => message.Position));
    }

    [Fact]
    public void DeleteTopic_RemovesItsHistory()
    {
        using var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true });
        journal.Write([Create(1, "a"), Publish(2, "a"), new LogEntry(3, LogEntryKind.DeleteTopic, "a", [], 0)]);
        Assert.Empty(journal.LoadTopics());
        Assert.Equal(0, journal.Stats("a").Messages);
    }

    [Fact]
    public void RetentionCut_ByCount_KeepsTheNewest_AndATruncateEntryRecordsTheCut()
    {
        using var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true, MaxMessagesPerTopic = 3, MaxAge = TimeSpan.Zero });
        journal.Write([Create(1, "a"), .. Enumerable.Range(2, 10).Select(position => Publish(position, "a"))]);
        long cut = journal.RetentionCut("a", DateTimeOffset.UtcNow);
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
        using var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true, MaxMessagesPerTopic = 0, MaxAge = TimeSpan.FromHours(1) });
        long old = now.AddHours(-2).ToUnixTimeMilliseconds(), fresh = now.ToUnixTimeMilliseconds();
        journal.Write([Create(1, "a"), Publish(2, "a", old), Publish(3, "a", old), Publish(4, "a", fresh)]);
        Assert.Equal(3, journal.RetentionCut("a", now));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
