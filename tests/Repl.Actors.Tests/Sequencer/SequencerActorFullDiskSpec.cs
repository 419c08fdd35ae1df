using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Reader;
using Repl.Actors.Sequencer;
using Repl.Actors.Tests.Specs;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Sequencer;

/// <summary>
/// The sequencer on the real SQLite journal when the disk is full (the file capped at its size: SQLite answers
/// <c>SQLITE_FULL</c>, as on a full disk; the host-level run on a real full tmpfs is in Repl.Host.Tests' CrashConsistencyTests).
/// </summary>
public sealed class SequencerActorFullDiskSpec : Akka.TestKit.Xunit2.TestKit
{
    // serialize-messages is off here, as in SequencerActorFailingJournalSpec: the journal's rejection answer carries the
    // exception, which Akka's default JSON serializer cannot round-trip. Those messages never leave the node.
    private const string Hocon = "akka.actor.serialize-messages = off";

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SpecJournal _journal;
    private readonly TestProbe _reader;

    public SequencerActorFullDiskSpec(ITestOutputHelper output) : this(SpecJournal.Create(), output)
    {
    }

    private SequencerActorFullDiskSpec(SpecJournal journal, ITestOutputHelper output)
        : base(ReplSpec.Setup(journal.Journal, ReplSpec.Config(Hocon, ReplSpec.LocalHocon)), "full-disk-spec", output)
    {
        _journal = journal;
        _reader = CreateTestProbe("reader");
    }

    private static long Future => DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds();

    private static SequencerProtocol.Publish Publish(long batch, params PublishCommand[] commands) => new(batch, commands, Future);

    private IActorRef StartSequencer() =>
        Sys.ActorOf(SequencerActor.Props(new SequencerProtocol.Settings(4096, 10_000, _reader), TimeProvider.System), "sequencer");

    private void CreateTopic(IActorRef sequencer, string topic)
    {
        sequencer.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, topic, 0, Future));
        Assert.True(ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position > 0);
    }

    [Fact]
    public void AWriteOnAFullDisk_IsRefusedSayingSo_AndTheSequencerGoesOn_CommittingAgainOnceThereIsSpace()
    {
        var sequencer = StartSequencer();
        Watch(sequencer);
        CreateTopic(sequencer, "a");
        _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait);
        var large = new PublishCommand("a", Encoding.UTF8.GetBytes($"{{\"v\":\"{new string('x', 64 * 1024)}\"}}"), 0);

        _journal.Journal.CapAtCurrentSize(true);
        sequencer.Tell(Publish(1, large));
        var refused = ExpectMsg<SequencerProtocol.Rejected>(Wait);
        Assert.Equal(1, refused.BatchId);
        Assert.Contains("is full", refused.Reason);
        // The same sequencer answers the next one at once (a stopped one would leave it to the caller's deadline).
        sequencer.Tell(Publish(2, large));
        Assert.Equal(2, ExpectMsg<SequencerProtocol.Rejected>(Wait).BatchId);

        _journal.Journal.CapAtCurrentSize(false);
        sequencer.Tell(Publish(3, large));
        var committed = ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal(3, committed.BatchId);
        // The refused writes' positions are spent, never issued: the log skips them.
        Assert.True(committed.Positions[0] > 2);
        var applied = _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait);
        Assert.Equal(committed.Positions[0], applied.Entries[0].Position);
        // The message is built before the write for the position it will have: after the spent ones, its id is still right.
        Assert.True(MessageJson.HasId(applied.Entries[0].Message, committed.Positions[0]));
        Assert.Equal(applied.Entries[0].Message, _journal.Journal.MessageAt(committed.Positions[0]));
        Assert.Equal(1, _journal.Journal.Stats("a").Messages);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void AWriteOfSeveralEntriesOnAFullDisk_IsRefusedWhole_AndTheWritesQueuedBehindItGoOn()
    {
        var sequencer = StartSequencer();
        Watch(sequencer);
        CreateTopic(sequencer, "a");
        _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait);
        var large = new PublishCommand("a", Encoding.UTF8.GetBytes($"{{\"v\":\"{new string('x', 64 * 1024)}\"}}"), 0);

        _journal.Journal.CapAtCurrentSize(true);
        // Three entries in one write, and a publish queued behind it: the journal rejects each of the three, and the
        // queued one is cut only once the last rejection came (Akka runs no completion callback for a rejected write).
        sequencer.Tell(Publish(1, large, large, large));
        sequencer.Tell(Publish(2, large));
        Assert.Equal(1, ExpectMsg<SequencerProtocol.Rejected>(Wait).BatchId);
        Assert.Equal(2, ExpectMsg<SequencerProtocol.Rejected>(Wait).BatchId);

        _journal.Journal.CapAtCurrentSize(false);
        sequencer.Tell(Publish(3, large));
        var committed = ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal(3, committed.BatchId);
        // The four refused positions are spent, and the applied batch says it follows them: no hole for the reader to fill.
        var applied = _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait);
        Assert.Equal(committed.Positions[0], applied.Entries[0].Position);
        Assert.Equal(committed.Positions[0] - 1, applied.After);
        Assert.Equal(1, _journal.Journal.Stats("a").Messages);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // no Terminated: one sequencer throughout
    }

    [Fact]
    public void ATopicCreatedOnAFullDisk_IsRefusedAndTakenBack_AndTheSequencerGoesOn()
    {
        var sequencer = StartSequencer();
        Watch(sequencer);
        CreateTopic(sequencer, "a");
        _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait);

        // Full to the last page: creates until one is refused, so that no create fits any more.
        _journal.Journal.CapAtCurrentSize(true);
        for (int i = 0; ; i++)
        {
            Assert.True(i < 10_000, "the capped journal never refused a write");
            sequencer.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, $"filler-{i:D6}", 0, Future));
            if (ExpectMsg<object>(Wait) is SequencerProtocol.Rejected) break;
            _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait);
        }

        sequencer.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "topic-b", 0, Future));
        Assert.Contains("is full", ExpectMsg<SequencerProtocol.Rejected>(Wait).Reason);
        // Taken back at once, by the same sequencer: the topic does not exist (a publish to it gets no position).
        sequencer.Tell(Publish(1, new PublishCommand("topic-b", Encoding.UTF8.GetBytes("{\"v\":\"b\"}"), 0)));
        Assert.Equal(0, ExpectMsg<SequencerProtocol.Committed>(Wait).Positions[0]);

        _journal.Journal.CapAtCurrentSize(false);
        CreateTopic(sequencer, "topic-b");
        _reader.ExpectMsg<LogReaderProtocol.Apply>(Wait);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // no Terminated: one sequencer throughout
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _journal.Dispose();
    }
}
