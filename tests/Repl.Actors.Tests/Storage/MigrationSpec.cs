using System.Text;
using Akka.Actor;
using Microsoft.Data.Sqlite;
using Repl.Actors.Log;
using Repl.Actors.Sequencer;
using Repl.Actors.Tests.Specs;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Storage;

/// <summary>
/// A data directory written before the engine moved onto Akka (commit 4160c3a: topics, messages and meta only, no
/// <c>schema</c> key): it opens, gets a first snapshot of its topics at its last position, and the sequencer goes on.
/// </summary>
public sealed class MigrationSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SpecJournal _journal;

    public MigrationSpec(ITestOutputHelper output) : this(OldDataDir(), output)
    {
    }

    private MigrationSpec(SpecJournal journal, ITestOutputHelper output)
        : base(ReplSpec.Setup(journal.Journal, ReplSpec.Config(ReplSpec.LocalHocon)), "migration-spec", output)
    {
        _journal = journal;
    }

    /// <summary>
    /// The 4160c3a schema, by hand: topics a (created at 1) and b (2), a topic c created at 3 and deleted at 6 (gone
    /// from both tables, as that version deleted), messages of a and b, last position 8.
    /// </summary>
    private static SpecJournal OldDataDir()
    {
        string dir = SpecJournal.NewDir();
        Directory.CreateDirectory(dir);
        using (var connection = new SqliteConnection($"Data Source={Path.Combine(dir, "repl.db")};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                PRAGMA journal_mode=WAL;
                CREATE TABLE topics(name TEXT PRIMARY KEY, created INTEGER NOT NULL, trimmed INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
                CREATE TABLE messages(pos INTEGER PRIMARY KEY, topic TEXT NOT NULL, created INTEGER NOT NULL, body BLOB NOT NULL);
                CREATE INDEX messages_topic ON messages(topic, pos);
                CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                INSERT INTO topics(name, created) VALUES ('a', 1), ('b', 2);
                INSERT INTO messages(pos, topic, created, body) VALUES
                  (4, 'a', 1000, CAST('{"id":"4","topic":"a","value":"x"}' AS BLOB)),
                  (5, 'b', 1001, CAST('{"id":"5","topic":"b","value":"y"}' AS BLOB)),
                  (7, 'a', 1002, CAST('{"id":"7","topic":"a","value":"z"}' AS BLOB)),
                  (8, 'a', 1003, CAST('{"id":"8","topic":"a","value":"w"}' AS BLOB));
                INSERT INTO meta(key, value) VALUES ('last', 8);
                """;
            command.ExecuteNonQuery();
        }
        return SpecJournal.Open(dir);
    }

    [Fact]
    public void OldJournal_Opens_WithAFirstSnapshotOfItsTopicsAtItsLastPosition()
    {
        var journal = _journal.Journal;
        Assert.Equal(8, journal.LastPosition);
        var stored = journal.Snapshots.Load(SequencerActor.LogPersistenceId, long.MaxValue, long.MaxValue);
        Assert.NotNull(stored);
        Assert.Equal(8, stored.SequenceNr);
        var snapshot = Assert.IsType<SequencerProtocol.Snapshot>(Sys.Serialization.Deserialize(stored.Payload, stored.Serializer, stored.Manifest));
        Assert.Equal(["a", "b"], snapshot.Topics.Order());
        // Its history is still there, ids as clients hold them.
        Assert.Equal([4L, 7L, 8L], journal.Read(["a"], 0, long.MaxValue, 10).Select(message => message.Position));

        // Opening it again does not migrate twice.
        using (var connection = new SqliteConnection($"Data Source={_journal.DatabaseFile};Pooling=False"))
        {
            connection.Open();
            using var count = connection.CreateCommand();
            count.CommandText = "SELECT count(*) FROM snapshots";
            Assert.Equal(1L, count.ExecuteScalar());
            count.CommandText = "SELECT value FROM meta WHERE key = 'schema'";
            Assert.Equal(2L, count.ExecuteScalar());
        }
    }

    [Fact]
    public void SequencerOnAnOldJournal_RecoversItsTopics_AndContinuesAtLastPlusOne()
    {
        var sequencer = Sys.ActorOf(SequencerActor.Props(new SequencerProtocol.Settings(4096, 10_000, null), TimeProvider.System));
        long future = DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds();
        sequencer.Tell(new SequencerProtocol.Publish(1,
            [new PublishCommand("a", Encoding.UTF8.GetBytes("{}"), 0), new PublishCommand("c", Encoding.UTF8.GetBytes("{}"), 0), new PublishCommand("b", Encoding.UTF8.GetBytes("{}"), 0)], future));
        Assert.Equal([9L, 0L, 10L], ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
        sequencer.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "a", 0, future));
        Assert.Equal(0, ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position);
        sequencer.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "c", 0, future));
        Assert.Equal(11, ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position);
        Assert.Equal([4L, 7L, 8L, 9L], _journal.Journal.Read(["a"], 0, long.MaxValue, 10).Select(message => message.Position));
    }

    [Fact]
    public void OldJournal_GainsTheSettingsColumns_AndKeepsATopicsSettings()
    {
        Assert.Empty(_journal.Journal.LoadTopics().Single(topic => topic.Name == "a").SettingsJson);
        var sequencer = Sys.ActorOf(SequencerActor.Props(new SequencerProtocol.Settings(4096, 10_000, null), TimeProvider.System));
        var settings = new Repl.Actors.Topics.TopicSettings(MaxMessages: 2, Presence: true);
        sequencer.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.Settings, "a", 0, DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds(), settings,
            Repl.Actors.Topics.TopicSettingsFields.MaxMessages | Repl.Actors.Topics.TopicSettingsFields.Presence));
        Assert.Equal(9, ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position);
        Assert.Equal(settings, Repl.Actors.Topics.TopicSettings.FromJson(_journal.Journal.LoadTopics().Single(topic => topic.Name == "a").SettingsJson));
        // The topic's own retention (2) applies to it: of its messages 4, 7 and 8, retention would cut through 4.
        Assert.Equal(4, _journal.Journal.Retention.Cut("a", DateTimeOffset.UtcNow));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _journal.Dispose();
    }
}
