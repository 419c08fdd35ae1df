using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Microsoft.Data.Sqlite;
using Repl.Actors.Log;
using Repl.Actors.Reader;
using Repl.Actors.Sequencer;
using Repl.Actors.Tests.Specs;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Sequencer;

/// <summary>The log's one writer on the real SQLite journal and snapshot store plugins, over a temp file.</summary>
public sealed class SequencerActorSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SpecJournal _journal;
    private readonly TestProbe _reader;

    public SequencerActorSpec(ITestOutputHelper output) : this(SpecJournal.Create(), output)
    {
    }

    private SequencerActorSpec(SpecJournal journal, ITestOutputHelper output)
        : base(ReplSpec.Setup(journal.Journal, ReplSpec.Config(ReplSpec.LocalHocon)), "sequencer-spec", output)
    {
        _journal = journal;
        _reader = CreateTestProbe("reader");
    }

    private IActorRef StartSequencer(int snapshotEvery = 10_000, string? name = null) =>
        Sys.ActorOf(SequencerActor.Props(new SequencerProtocol.Settings(4096, snapshotEvery, _reader), TimeProvider.System), name ?? "sequencer-" + Guid.NewGuid().ToString("N"));

    private static long Future => DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds();

    private static PublishCommand Command(string topic, int n) => new(topic, Encoding.UTF8.GetBytes($"{{\"n\":{n}}}"), 0);

    private static SequencerProtocol.Publish Publish(long batch, params PublishCommand[] commands) => new(batch, commands, Future);

    private static SequencerProtocol.ChangeTopic Create(string topic) => new(LogEntryKind.CreateTopic, topic, 0, Future);

    private static SequencerProtocol.ChangeTopic Delete(string topic) => new(LogEntryKind.DeleteTopic, topic, 0, Future);

    private long CreateTopic(IActorRef sequencer, string topic)
    {
        sequencer.Tell(Create(topic));
        var changed = ExpectMsg<SequencerProtocol.TopicChanged>(Wait);
        Assert.Equal(topic, changed.Topic);
        Assert.True(changed.Position > 0);
        return changed.Position;
    }

    [Fact]
    public void Publishes_ArrivingWhileAWriteIsInFlight_GoTogetherIntoTheNextWrite()
    {
        var sequencer = StartSequencer();
        CreateTopic(sequencer, "a");
        _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait);

        const int publishes = 50;
        // Another connection holds SQLite's write lock: the first write waits on it (busy timeout), so everything
        // sent meanwhile is queued in the sequencer while that write is in flight.
        using (var blocker = new SqliteConnection($"Data Source={_journal.DatabaseFile}"))
        {
            blocker.Open();
            using (var begin = blocker.CreateCommand())
            {
                begin.CommandText = "BEGIN IMMEDIATE";
                begin.ExecuteNonQuery();
            }
            for (int i = 1; i <= publishes; i++) sequencer.Tell(Publish(i, Command("a", i)));
            _reader.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
            using var rollback = blocker.CreateCommand();
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        var applies = new List<LogReaderProtocol.Apply>();
        while (applies.Sum(apply => apply.Entries.Count) < publishes) applies.Add(_reader.ExpectMsg<LogReaderProtocol.Apply>(Wait));
        // The first write may have taken one publish or several; whatever came while it was blocked went into one more.
        Assert.InRange(applies.Count, 1, 2);
        var positions = applies.SelectMany(apply => apply.Entries).Select(entry => entry.Position).ToArray();
        Assert.Equal(Enumerable.Range(2, publishes).Select(p => (long)p), positions);
        Assert.Equal(1, applies[0].After);
        if (applies.Count == 2) Assert.Equal(applies[0].Entries[^1].Position, applies[1].After);
        for (int i = 1; i <= publishes; i++) Assert.Equal([i + 1L], ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
    }

    [Fact]
    public void Positions_FollowArrivalOrder_AcrossCallersAndBatches()
    {
        var sequencer = StartSequencer();
        CreateTopic(sequencer, "a");
        CreateTopic(sequencer, "b");
        var other = CreateTestProbe();
        sequencer.Tell(Publish(1, Command("a", 1), Command("b", 2)));
        sequencer.Tell(Publish(7, Command("b", 3)), other);
        sequencer.Tell(Publish(2, Command("a", 4)));

        var first = ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal(1, first.BatchId);
        Assert.Equal([3L, 4L], first.Positions);
        var second = ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal(2, second.BatchId);
        Assert.Equal([6L], second.Positions);
        var others = other.ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal(7, others.BatchId);
        Assert.Equal([5L], others.Positions);

        // The journal holds them at those positions, in that order.
        var log = _journal.Journal.ReadLog(2, long.MaxValue, 100);
        Assert.Equal([3L, 4L, 5L, 6L], log.Select(entry => entry.Position));
        Assert.Equal(["a", "b", "b", "a"], log.Select(entry => entry.Topic));
        Assert.Equal([1, 2, 3, 4], log.Select(entry => int.Parse(Encoding.UTF8.GetString(entry.Message).Split("\"n\":")[1].TrimEnd('}'))));
    }

    [Fact]
    public void Publish_ToAnUnknownTopic_GetsPositionZero_AndIsNotPersisted()
    {
        var sequencer = StartSequencer();
        CreateTopic(sequencer, "a");
        sequencer.Tell(Publish(1, Command("nope", 1), Command("a", 2), Command("nope", 3)));
        var committed = ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal([0L, 2L, 0L], committed.Positions);
        Assert.Equal(2, _journal.Journal.LastPosition);
        Assert.DoesNotContain(_journal.Journal.ReadLog(0, long.MaxValue, 100), entry => entry.Topic == "nope");

        // A batch with nothing to persist is answered at once, without a write.
        sequencer.Tell(Publish(2, Command("nope", 4)));
        Assert.Equal([0L], ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
        Assert.Equal(2, _journal.Journal.LastPosition);
    }

    [Fact]
    public void Request_ThatCommitsWhole_WithOneUnknownTopic_CommitsNothingOfIt_AndTheOthersOfItsBatchGoOn()
    {
        var sequencer = StartSequencer();
        CreateTopic(sequencer, "a");
        CreateTopic(sequencer, "b");
        _reader.ReceiveN(2, Wait);
        // One batch, three requests: a broadcast to a, nope and b; a lone publish to a; a broadcast to b and a.
        sequencer.Tell(new SequencerProtocol.Publish(1, [Command("a", 1), Command("nope", 2), Command("b", 3), Command("a", 4), Command("b", 5), Command("a", 6)],
            Future, [3, 1, 2]));

        var committed = ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal([0L, 0L, 0L, 3L, 4L, 5L], committed.Positions);
        var log = _journal.Journal.ReadLog(2, long.MaxValue, 100);
        Assert.Equal(["a", "b", "a"], log.Select(entry => entry.Topic));
        Assert.Equal([4, 5, 6], log.Select(entry => int.Parse(Encoding.UTF8.GetString(entry.Message).Split("\"n\":")[1].TrimEnd('}'))));
        // All of one write: the reader got the three in one batch.
        Assert.Equal([3L, 4L, 5L], _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait).Entries.Select(entry => entry.Position));

        // The whole request refused, nothing written: answered at once.
        sequencer.Tell(new SequencerProtocol.Publish(2, [Command("b", 7), Command("gone", 8)], Future, [2]));
        Assert.Equal([0L, 0L], ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
        Assert.Equal(5, _journal.Journal.LastPosition);
    }

    [Fact]
    public void Create_GetsAPosition_AndCreatingAnExistingTopicGetsZero()
    {
        var sequencer = StartSequencer();
        Assert.Equal(1, CreateTopic(sequencer, "a"));
        sequencer.Tell(Create("a"));
        Assert.Equal(new SequencerProtocol.TopicChanged("a", 0), ExpectMsg<SequencerProtocol.TopicChanged>(Wait));
        Assert.Equal(1, _journal.Journal.LastPosition);
        Assert.Equal(["a"], _journal.Journal.LoadTopics().Select(topic => topic.Name));
    }

    [Fact]
    public void Delete_ThenPublish_GetsZero_AndDeletingAMissingTopicGetsZero()
    {
        var sequencer = StartSequencer();
        CreateTopic(sequencer, "a");
        sequencer.Tell(Delete("a"));
        Assert.Equal(new SequencerProtocol.TopicChanged("a", 2), ExpectMsg<SequencerProtocol.TopicChanged>(Wait));
        sequencer.Tell(Publish(1, Command("a", 1)));
        Assert.Equal([0L], ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
        sequencer.Tell(Delete("a"));
        Assert.Equal(new SequencerProtocol.TopicChanged("a", 0), ExpectMsg<SequencerProtocol.TopicChanged>(Wait));
        Assert.Equal(2, _journal.Journal.LastPosition);
    }

    [Fact]
    public void Create_AndPublish_InOneCut_PublishSeesTheNewTopic()
    {
        var sequencer = StartSequencer();
        var creator = CreateTestProbe();
        // Both queued behind the first write (the create of "x"): they are cut together, in arrival order.
        sequencer.Tell(Create("x"), creator);
        sequencer.Tell(Create("a"), creator);
        sequencer.Tell(Publish(1, Command("a", 1)));
        Assert.Equal(1, creator.ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position);
        Assert.Equal(2, creator.ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position);
        Assert.Equal([3L], ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
    }

    [Fact]
    public void Committed_ArrivesOnlyOnceTheEntriesAreInTheJournal()
    {
        var sequencer = StartSequencer();
        CreateTopic(sequencer, "a");
        for (int batch = 1; batch <= 20; batch++)
        {
            sequencer.Tell(Publish(batch, Command("a", batch), Command("a", -batch)));
        }
        for (int batch = 1; batch <= 20; batch++)
        {
            var committed = ExpectMsg<SequencerProtocol.Committed>(Wait);
            // Checked the moment the answer is here: the journal already holds the batch.
            Assert.True(_journal.Journal.LastPosition >= committed.Positions.Max());
            var stored = _journal.Journal.ReadLog(committed.Positions.Min() - 1, committed.Positions.Max(), 10);
            Assert.Equal(committed.Positions, stored.Select(entry => entry.Position));
        }
    }

    [Fact]
    public void Apply_GoesToTheReader_BeforeTheCallerIsAnswered_WithTheIdInTheMessage()
    {
        var sequencer = StartSequencer();
        CreateTopic(sequencer, "a");
        Assert.Equal(0, _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait).After);
        sequencer.Tell(Publish(1, Command("a", 1)));
        ExpectMsg<SequencerProtocol.Committed>(Wait);
        var apply = _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait);
        Assert.Equal(1, apply.After);
        var entry = Assert.Single(apply.Entries);
        Assert.Equal(2, entry.Position);
        Assert.StartsWith("{\"id\":\"2\"", Encoding.UTF8.GetString(entry.Message));
    }

    [Fact]
    public void Publish_PastItsDeadline_IsRejected_AndNothingIsPersisted()
    {
        var sequencer = StartSequencer();
        CreateTopic(sequencer, "a");
        _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait);
        long past = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeMilliseconds();
        sequencer.Tell(new SequencerProtocol.Publish(9, [Command("a", 1)], past));
        var rejected = ExpectMsg<SequencerProtocol.Rejected>(Wait);
        Assert.Equal(9, rejected.BatchId);
        sequencer.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "late", 0, past));
        Assert.Equal(0, ExpectMsg<SequencerProtocol.Rejected>(Wait).BatchId);
        Assert.Equal(1, _journal.Journal.LastPosition);
        Assert.Single(_journal.Journal.ReadLog(0, long.MaxValue, 100));
        _reader.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        // A live publish after it takes the next position: the dropped one left no hole.
        sequencer.Tell(Publish(10, Command("a", 2)));
        Assert.Equal([2L], ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
    }

    [Fact]
    public void NewIncarnation_RecoversFromTheSnapshotAndTheTail_NotTheWholeLog()
    {
        var first = StartSequencer(snapshotEvery: 5);
        CreateTopic(first, "a");
        CreateTopic(first, "b");
        for (int batch = 1; batch <= 4; batch++)
        {
            first.Tell(Publish(batch, Command("a", batch)));
            ExpectMsg<SequencerProtocol.Committed>(Wait);
        }
        // Position 5 reached SnapshotEvery: a snapshot of {a, b} at 5. Then a tail after it (6: publish, 7: create c, 8: delete b).
        AwaitAssert(() => Assert.NotNull(_journal.Journal.Snapshots.Load(SequencerActor.LogPersistenceId, long.MaxValue, long.MaxValue)), Wait);
        var snapshot = _journal.Journal.Snapshots.Load(SequencerActor.LogPersistenceId, long.MaxValue, long.MaxValue)!;
        Assert.Equal(5, snapshot.SequenceNr);
        CreateTopic(first, "c");
        first.Tell(Delete("b"));
        ExpectMsg<SequencerProtocol.TopicChanged>(Wait);
        Watch(first);
        first.Tell(SequencerProtocol.Drain.Instance);
        ExpectTerminated(first, Wait);

        // Proof that recovery does not read the log before the snapshot: every entry up to it is rewritten as a
        // delete of its topic. A replay of the whole log would then lose "a"; one from the snapshot cannot see them.
        using (var connection = new SqliteConnection($"Data Source={_journal.DatabaseFile}"))
        {
            connection.Open();
            using var tamper = connection.CreateCommand();
            tamper.CommandText = "UPDATE events SET kind = 3 WHERE pos <= $s";
            tamper.Parameters.AddWithValue("$s", snapshot.SequenceNr);
            Assert.Equal(2, tamper.ExecuteNonQuery());
        }

        var second = StartSequencer(snapshotEvery: 5);
        second.Tell(Publish(1, Command("a", 1), Command("b", 2), Command("c", 3)));
        // "a" from the snapshot, "c" created and "b" deleted in the tail; positions continue after the last one (8).
        Assert.Equal([9L, 0L, 10L], ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
        second.Tell(Create("a"));
        Assert.Equal(0, ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position);
    }

    [Fact]
    public void Committed_SaysWhichPublishesWereRetries_InTheWindowOrEarlierInTheSameWrite()
    {
        var sequencer = StartSequencer();
        CreateTopic(sequencer, "a");
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        PublishCommand Keyed(int n, string key) => Command("a", n) with { Key = key, CreatedAtMs = now };

        sequencer.Tell(Publish(1, Keyed(1, "k1"), Keyed(2, "k1"), Command("a", 3)));
        var first = ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal(first.Positions[0], first.Positions[1]);
        Assert.Equal([false, true, false], first.Retried!.AsEnumerable());

        sequencer.Tell(Publish(2, Keyed(4, "k1"), Keyed(5, "k2")));
        var second = ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal(first.Positions[0], second.Positions[0]);
        Assert.Equal([true, false], second.Retried!.AsEnumerable());

        // First commits only: no retries to tell, and the answer is as before.
        sequencer.Tell(Publish(3, Keyed(6, "k3"), Command("a", 7)));
        Assert.Null(ExpectMsg<SequencerProtocol.Committed>(Wait).Retried);
    }

    [Fact]
    public void RetryAfterRecovery_AnswersTheFirstPosition_EvenWhenRetentionTrimmedTheMessage()
    {
        var first = StartSequencer(snapshotEvery: 3);
        CreateTopic(first, "a");
        long Keyed(IActorRef sequencer, long batch, string key)
        {
            sequencer.Tell(Publish(batch, Command("a", (int)batch) with { Key = key, CreatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }));
            return Assert.Single(ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
        }
        long early = Keyed(first, 1, "early");
        Keyed(first, 2, "other");
        // A snapshot at 3, then a key in the tail after it.
        AwaitAssert(() => Assert.Equal(3, _journal.Journal.Snapshots.Load(SequencerActor.LogPersistenceId, long.MaxValue, long.MaxValue)?.SequenceNr), Wait);
        long late = Keyed(first, 3, "late");
        // Retention trims every message of the topic, keyed ones included, well within their window.
        first.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.Truncate, "a", late, Future));
        ExpectMsg<SequencerProtocol.TopicChanged>(Wait);
        Assert.Empty(_journal.Journal.Read(["a"], 0, long.MaxValue, 10));
        Watch(first);
        first.Tell(SequencerProtocol.Drain.Instance);
        ExpectTerminated(first, Wait);
        long head = _journal.Journal.LastPosition;

        var second = StartSequencer(snapshotEvery: 3);
        Assert.Equal(early, Keyed(second, 4, "early"));
        Assert.Equal(late, Keyed(second, 5, "late"));
        Assert.Equal(head, _journal.Journal.LastPosition);
    }

    [Fact]
    public void Snapshot_StaysSmall_WhateverTheKeyWindowAndTheTopicsHold()
    {
        var sequencer = StartSequencer(snapshotEvery: 2_000);
        for (int topic = 0; topic < 500; topic++)
        {
            sequencer.Tell(Create("t" + topic));
            ExpectMsg<SequencerProtocol.TopicChanged>(Wait);
        }
        // 2,000 keys of 200 characters: written whole, about 450 kB.
        string padding = new('k', 190);
        for (int batch = 0; batch < 20; batch++)
        {
            sequencer.Tell(Publish(batch, [.. Enumerable.Range(0, 100).Select(i => Command("t" + i, i) with { Key = $"{batch:D4}{i:D4}{padding}" })]));
            ExpectMsg<SequencerProtocol.Committed>(Wait);
        }
        AwaitAssert(() => Assert.NotNull(_journal.Journal.Snapshots.Load(SequencerActor.LogPersistenceId, long.MaxValue, long.MaxValue)), Wait);
        var snapshot = _journal.Journal.Snapshots.Load(SequencerActor.LogPersistenceId, long.MaxValue, long.MaxValue)!;
        Assert.InRange(snapshot.Payload.Length, 0, 64);
    }

    [Fact]
    public void Snapshot_ReplacesTheOlderOne()
    {
        var sequencer = StartSequencer(snapshotEvery: 2);
        CreateTopic(sequencer, "a");
        for (int batch = 1; batch <= 5; batch++)
        {
            sequencer.Tell(Publish(batch, Command("a", batch)));
            ExpectMsg<SequencerProtocol.Committed>(Wait);
        }
        AwaitAssert(() =>
        {
            var snapshots = _journal.Journal.Snapshots.Load(SequencerActor.LogPersistenceId, long.MaxValue, long.MaxValue);
            Assert.Equal(6, snapshots?.SequenceNr);
            Assert.Null(_journal.Journal.Snapshots.Load(SequencerActor.LogPersistenceId, 5, long.MaxValue));
        }, Wait);
    }

    [Fact]
    public void Drain_CommitsAndAnswersWhatIsQueued_ThenStops()
    {
        var sequencer = StartSequencer();
        CreateTopic(sequencer, "a");
        Watch(sequencer);
        for (int batch = 1; batch <= 10; batch++) sequencer.Tell(Publish(batch, Command("a", batch)));
        sequencer.Tell(SequencerProtocol.Drain.Instance);
        for (int batch = 1; batch <= 10; batch++)
        {
            var committed = ExpectMsg<SequencerProtocol.Committed>(Wait);
            Assert.Equal(batch, committed.BatchId);
            Assert.Equal([batch + 1L], committed.Positions);
        }
        ExpectTerminated(sequencer, Wait);
        Assert.Equal(11, _journal.Journal.LastPosition);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _journal.Dispose();
    }
}
