using System.Text;
using Akka.Actor;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Reader;
using Repl.Actors.Tests.Specs;
using Repl.Actors.Topics;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Reader;

/// <summary>A node's log reader over a real registry and a real SQLite journal.</summary>
public sealed class LogReaderSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SpecJournal _journal;
    private readonly TopicRegistry _registry = new();

    public LogReaderSpec(ITestOutputHelper output) : this(SpecJournal.Create(), output)
    {
    }

    private LogReaderSpec(SpecJournal journal, ITestOutputHelper output)
        : base(ReplSpec.Setup(journal.Journal, ReplSpec.Config(ReplSpec.LocalHocon)), "log-reader-spec", output)
    {
        _journal = journal;
    }

    private IActorRef StartReader(bool replica = false) =>
        Sys.ActorOf(LogReader.Props(_registry, new TopicsOptions { MemoryWindow = 64 }, _journal.Journal, replica));

    private static LogEntry Create(long position, string topic) => new(position, LogEntryKind.CreateTopic, topic, [], 0);

    private static LogEntry Delete(long position, string topic) => new(position, LogEntryKind.DeleteTopic, topic, [], 0);

    private static LogEntry Published(long position, string topic) =>
        new(position, LogEntryKind.Publish, topic, MessageJson.WithId(position, Encoding.UTF8.GetBytes($"{{\"topic\":\"{topic}\"}}")), 0);

    private async Task Applied(long position) => await _registry.WaitAppliedAsync(position).WaitAsync(Wait);

    private long[] Frames(string topic)
    {
        Assert.True(_registry.TryGet(topic, out var hub));
        var frames = new List<Frame>();
        Assert.True(hub.TryRead(0, _registry.AppliedPosition, frames, int.MaxValue));
        return [.. frames.Select(frame => frame.Position)];
    }

    [Fact]
    public async Task Batches_AreAppliedInOrder_AndMoveTheOneWatermark()
    {
        var reader = StartReader();
        reader.Tell(new LogReaderProtocol.Apply(0, [Create(1, "a"), Create(2, "b"), Published(3, "a")]));
        reader.Tell(new LogReaderProtocol.Apply(3, [Published(4, "b"), Published(5, "a")]));
        reader.Tell(new LogReaderProtocol.Apply(5, [Delete(6, "b"), Published(7, "a")]));
        await Applied(7);
        Assert.Equal(7, _registry.AppliedPosition);
        Assert.Equal([3L, 5L, 7L], Frames("a"));
        Assert.False(_registry.TryGet("b", out _));
    }

    [Fact]
    public async Task ABatchAheadOfTheWatermark_IsPrecededByWhatTheJournalHolds()
    {
        // Standalone: the sequencer wrote 1..6 (the journal is the log); this reader saw none of it until 6.
        _journal.Journal.Write([Create(1, "a"), Published(2, "a"), Published(3, "a"), Create(4, "b"), Published(5, "b"), Published(6, "a")]);
        var reader = StartReader();
        reader.Tell(new LogReaderProtocol.Apply(5, [Published(6, "a")]));
        await Applied(6);
        Assert.Equal([2L, 3L, 6L], Frames("a"));
        Assert.Equal([5L], Frames("b"));
    }

    [Fact]
    public async Task ALiveBatch_NotifiesEachSubscriberOncePerBatch()
    {
        var reader = StartReader();
        reader.Tell(new LogReaderProtocol.Apply(0, [Create(1, "a"), Create(2, "b"), Create(3, "c")]));
        await Applied(3);
        var onA = new CountingSubscriber();
        var onB = new CountingSubscriber();
        var onC = new CountingSubscriber();
        _registry.TryGet("a", out var a);
        _registry.TryGet("b", out var b);
        _registry.TryGet("c", out var c);
        a.Subscribe(onA);
        b.Subscribe(onB);
        c.Subscribe(onC);

        reader.Tell(new LogReaderProtocol.Apply(3, [Published(4, "a"), Published(5, "a"), Published(6, "b"), Published(7, "a")]));
        reader.Tell(new LogReaderProtocol.Apply(7, [Published(8, "a")]));
        await Applied(8);
        Assert.Equal(2, onA.Notified);
        Assert.Equal(1, onB.Notified);
        Assert.Equal(0, onC.Notified);

        reader.Tell(new LogReaderProtocol.Apply(8, [Delete(9, "c")]));
        await Applied(9);
        Assert.Equal(1, onC.Deleted);
    }

    [Fact]
    public async Task EntriesAtOrBelowTheWatermark_AreSkipped()
    {
        var reader = StartReader();
        reader.Tell(new LogReaderProtocol.Apply(0, [Create(1, "a"), Published(2, "a"), Published(3, "a")]));
        // A cluster watch may resend a window it already gave: only what is new is applied.
        reader.Tell(new LogReaderProtocol.Apply(-1, [Published(2, "a"), Published(3, "a"), Published(4, "a")]));
        reader.Tell(new LogReaderProtocol.Apply(1, [Published(3, "a")]));
        await Applied(4);
        reader.Tell(new LogReaderProtocol.Apply(4, [Published(5, "a")]));
        await Applied(5);
        Assert.Equal([2L, 3L, 4L, 5L], Frames("a"));
        Assert.Equal(4, _registry.All.Single().Published);
    }

    [Fact]
    public async Task APublishToATopicThisNodeDoesNotHave_IsSkipped_AndRemembered()
    {
        var reader = StartReader();
        reader.Tell(new LogReaderProtocol.Apply(0, [Create(1, "a"), Published(2, "nope"), Published(3, "a")]));
        await Applied(3);
        Assert.Equal(0, _registry.Applied.Resolve(2));
        Assert.Equal(3, _registry.Applied.Resolve(3));
        Assert.Equal([3L], Frames("a"));
    }

    [Fact]
    public async Task AReplicaReader_WritesWhatItApplied_ThroughTheBatchsEnd_WithItsRevision()
    {
        var reader = StartReader(replica: true);
        // Position 3's topic does not exist here: it is not kept, but the replica is through the batch all the same.
        reader.Tell(new LogReaderProtocol.Apply(-1, [Create(1, "a"), Published(2, "a"), Published(3, "b")], Revision: 7));
        await Applied(3);
        Assert.Equal(3, _journal.Journal.LastPosition);
        Assert.Equal(7, _journal.Journal.ReplicaRevision);
        Assert.Equal(1, _journal.Journal.Stats("a").Messages);
    }

    [Fact]
    public async Task AReplicaReader_DropsABatchThatDoesNotFollowItsWatermark_AndAppliesItWhenTheFeedSendsItAgain()
    {
        var reader = StartReader(replica: true);
        reader.Tell(new LogReaderProtocol.Apply(0, [Create(1, "a"), Published(2, "a"), Published(3, "a")], Revision: 2));
        await Applied(3);
        // The batch after 3 was lost in a crash: the one queued behind it does not follow the watermark, and the
        // restarted feed sends both again from it.
        reader.Tell(new LogReaderProtocol.Apply(5, [Published(6, "a")], Revision: 4));
        reader.Tell(new LogReaderProtocol.Apply(3, [Published(4, "a"), Published(5, "a")], Revision: 3));
        reader.Tell(new LogReaderProtocol.Apply(5, [Published(6, "a")], Revision: 4));
        await Applied(6);
        Assert.Equal([2L, 3L, 4L, 5L, 6L], Frames("a"));
        Assert.Equal(6, _journal.Journal.LastPosition);
    }

    private sealed class CountingSubscriber : ISubscriber
    {
        private int _notified;
        private int _deleted;

        public int Notified => Volatile.Read(ref _notified);

        public int Deleted => Volatile.Read(ref _deleted);

        public void Notify() => Interlocked.Increment(ref _notified);

        public void Heartbeat()
        {
        }

        public void OnTopicDeleted(TopicHub topic) => Interlocked.Increment(ref _deleted);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _journal.Dispose();
    }
}
