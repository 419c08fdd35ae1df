using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Repl.Actors.Log;
using Repl.Actors.Reader;
using Repl.Actors.Sequencer;
using Repl.Actors.Tests.Specs;
using Repl.Actors.Topics;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Sequencer;

/// <summary>A node's batcher with a probe as the sequencer and a real registry advanced by a real log reader.</summary>
public sealed class BatcherSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SpecJournal _journal;
    private readonly TopicRegistry _registry = new();
    private readonly TestProbe _sequencer;
    private readonly IActorRef _reader;

    public BatcherSpec(ITestOutputHelper output) : this(SpecJournal.Create(), output)
    {
    }

    private BatcherSpec(SpecJournal journal, ITestOutputHelper output)
        : base(ReplSpec.Setup(journal.Journal, ReplSpec.Config(ReplSpec.LocalHocon)), "batcher-spec", output)
    {
        _journal = journal;
        _sequencer = CreateTestProbe("sequencer");
        _reader = Sys.ActorOf(LogReader.Props(_registry, new TopicsOptions(), journal.Journal, replica: false), "reader");
    }

    private IActorRef StartBatcher(TimeProvider? time = null, int maxInFlight = 1, StreamBacklog? backlog = null, TimeSpan maxHold = default) =>
        Sys.ActorOf(Batcher.Props(_sequencer, _registry.Applied,
            new Batcher.Options(MaxInFlight: maxInFlight, Deadline: TimeSpan.FromSeconds(1), AnswerGrace: TimeSpan.FromSeconds(1), MaxHold: maxHold),
            time ?? TimeProvider.System, backlog: backlog));

    private static PublishCommand Command(string topic) => new(topic, Encoding.UTF8.GetBytes("{}"), 0);

    private static Batcher.Publish Publish(params PublishCommand[] commands) =>
        new(commands, new TaskCompletionSource<Commit>(TaskCreationOptions.RunContinuationsAsynchronously));

    private static LogEntry Create(long position, string topic) => new(position, LogEntryKind.CreateTopic, topic, [], 0);

    private static LogEntry Published(long position, string topic) => new(position, LogEntryKind.Publish, topic, Encoding.UTF8.GetBytes($"{{\"id\":\"{position}\"}}"), 0);

    [Fact]
    public async Task EverythingThatWaited_GoesAsOnePublish_AndIsAnsweredOnlyOnceApplied()
    {
        var batcher = StartBatcher();
        var first = Publish(Command("a"));
        batcher.Tell(first);
        var sent = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        Assert.Single(sent.Commands);
        Assert.True(sent.DeadlineMs > DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

        // One batch in flight (MaxInFlight 1): these wait, then leave together.
        var second = Publish(Command("a"), Command("b"));
        var third = Publish(Command("a"));
        batcher.Tell(second);
        batcher.Tell(third);
        batcher.Tell(new SequencerProtocol.Committed(sent.BatchId, [2]), _sequencer);
        var next = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        Assert.Equal(["a", "b", "a"], next.Commands.Select(command => command.Topic));
        Assert.NotEqual(sent.BatchId, next.BatchId);

        // Committed at 2, but this node has not applied 2 yet: no answer.
        Assert.False(first.Completion.Task.IsCompleted);
        _reader.Tell(new LogReaderProtocol.Apply(0, [Create(1, "a"), Published(2, "a")]));
        Assert.Equal([2L], (await first.Completion.Task.WaitAsync(Wait)).Positions.AsEnumerable());
        Assert.Equal(2, _registry.AppliedPosition);

        batcher.Tell(new SequencerProtocol.Committed(next.BatchId, [3, 0, 4]), _sequencer);
        _reader.Tell(new LogReaderProtocol.Apply(2, [Published(3, "a"), Published(4, "a")]));
        Assert.Equal([3L, 0L], (await second.Completion.Task.WaitAsync(Wait)).Positions.AsEnumerable());
        Assert.Equal([4L], (await third.Completion.Task.WaitAsync(Wait)).Positions.AsEnumerable());
    }

    [Fact]
    public async Task Retries_AreToldToTheirOwnPublisher_AndNoOtherHearsOfThem()
    {
        var batcher = StartBatcher();
        var first = Publish(Command("a"));
        batcher.Tell(first);
        var sent = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        var retrying = Publish(Command("a"), Command("a"));
        var fresh = Publish(Command("a"));
        batcher.Tell(retrying);
        batcher.Tell(fresh);
        batcher.Tell(new SequencerProtocol.Committed(sent.BatchId, [2]), _sequencer);
        var next = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);

        // The second command repeated the first one's key: both land at 3, the second as a retry.
        batcher.Tell(new SequencerProtocol.Committed(next.BatchId, [3, 3, 4], [false, true, false]), _sequencer);
        _reader.Tell(new LogReaderProtocol.Apply(0, [Create(1, "a"), Published(2, "a"), Published(3, "a"), Published(4, "a")]));
        var retried = await retrying.Completion.Task.WaitAsync(Wait);
        Assert.Equal([3L, 3L], retried.Positions.AsEnumerable());
        Assert.Equal([false, true], retried.Retried!.AsEnumerable());
        Assert.True(retried.IsRetry(1));
        Assert.Null((await fresh.Completion.Task.WaitAsync(Wait)).Retried);
        Assert.Null((await first.Completion.Task.WaitAsync(Wait)).Retried);
    }

    [Fact]
    public void WhileTheStreamsAreBehind_TheNextBatchWaits_AndGoesWhenTheyCatchUp_WithEverythingThatArrivedMeanwhile()
    {
        var backlog = new StreamBacklog(limit: 100);
        int probes = 0;
        backlog.OnHold(() => Interlocked.Increment(ref probes));
        var batcher = StartBatcher(maxInFlight: 2, backlog: backlog, maxHold: TimeSpan.FromMinutes(1));

        backlog.Report(101);
        batcher.Tell(Publish(Command("a")));
        batcher.Tell(Publish(Command("b")));
        _sequencer.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        // The streams were asked to report again, once, though nothing woke them.
        Assert.Equal(1, Volatile.Read(ref probes));
        Assert.Equal(1, backlog.Holds);

        backlog.Report(100);
        var sent = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        Assert.Equal(["a", "b"], sent.Commands.Select(command => command.Topic));
    }

    [Fact]
    public void ABatchHeldForTheStreams_GoesAnywayAfterMaxHold_AndTheNextOneWaitsAgain()
    {
        var backlog = new StreamBacklog(limit: 10);
        var batcher = StartBatcher(maxInFlight: 2, backlog: backlog, maxHold: TimeSpan.FromMilliseconds(200));
        backlog.Report(1_000);

        batcher.Tell(Publish(Command("a")));
        _sequencer.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(["a"], _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait).Commands.Select(command => command.Topic));

        batcher.Tell(Publish(Command("b")));
        _sequencer.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(["b"], _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait).Commands.Select(command => command.Topic));
        Assert.Equal(2, backlog.Holds);
    }

    [Fact]
    public async Task APublishTheReaderSkipped_IsAnsweredZero()
    {
        var batcher = StartBatcher();
        var publish = Publish(Command("gone"), Command("a"));
        batcher.Tell(publish);
        var sent = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        batcher.Tell(new SequencerProtocol.Committed(sent.BatchId, [2, 3]), _sequencer);
        // "gone" was deleted on the log before this batch was applied: the reader skips its message.
        _reader.Tell(new LogReaderProtocol.Apply(0, [Create(1, "a"), Published(2, "gone"), Published(3, "a")]));
        Assert.Equal([0L, 3L], (await publish.Completion.Task.WaitAsync(Wait)).Positions.AsEnumerable());
    }

    [Fact]
    public async Task Rejected_FailsEveryPublishOfTheBatch_WithLogUnavailable()
    {
        var batcher = StartBatcher();
        var first = Publish(Command("a"));
        batcher.Tell(first);
        var sent = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        var waiting = new[] { Publish(Command("a")), Publish(Command("b")) };
        foreach (var publish in waiting) batcher.Tell(publish);
        batcher.Tell(new SequencerProtocol.Rejected(sent.BatchId, "the log write failed"), _sequencer);
        var error = await Assert.ThrowsAsync<LogUnavailableException>(() => first.Completion.Task.WaitAsync(Wait));
        Assert.Contains("the log write failed", error.Message);

        // The rejection freed the slot: the waiting ones go as the next batch, and fail with it.
        var next = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        Assert.Equal(2, next.Commands.Length);
        batcher.Tell(new SequencerProtocol.Rejected(next.BatchId, "stopping"), _sequencer);
        foreach (var publish in waiting) await Assert.ThrowsAsync<LogUnavailableException>(() => publish.Completion.Task.WaitAsync(Wait));
    }

    [Fact]
    public async Task OutcomeUnknown_FailsEveryPublishOfTheBatch_SayingSo_AndHowToRetry()
    {
        var batcher = StartBatcher();
        var publish = Publish(Command("a"));
        batcher.Tell(publish);
        var sent = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        batcher.Tell(new SequencerProtocol.OutcomeUnknown(sent.BatchId, "the log write's outcome is unknown: DeadlineExceeded"), _sequencer);
        var error = await Assert.ThrowsAsync<OutcomeUnknownException>(() => publish.Completion.Task.WaitAsync(Wait));
        Assert.Contains("DeadlineExceeded", error.Message);
        Assert.Contains("same Idempotency-Key", error.Message);
    }

    [Fact]
    public void ABatch_HoldsAtMostOneLogTransaction_ByTheBytesTheLogEncodes()
    {
        // Room for two of these, as the log encodes them (the topic's name and framing count, not only the body).
        var command = new PublishCommand("a-topic-with-a-long-name", Encoding.UTF8.GetBytes("{}"), 0);
        long one = Repl.Actors.Etcd.LogBatchCodec.SizeOf([command]);
        var batcher = Sys.ActorOf(Batcher.Props(_sequencer, _registry.Applied, new Batcher.Options(MaxInFlight: 1, MaxBatchBytes: 2 * one), TimeProvider.System));
        batcher.Tell(Publish(command));
        var first = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        for (int i = 0; i < 3; i++) batcher.Tell(Publish(command));
        batcher.Tell(new SequencerProtocol.Committed(first.BatchId, [0]), _sequencer);
        Assert.Equal(2, _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait).Commands.Length);
    }

    [Fact]
    public async Task ABatchTheSequencerNeverAnswers_FailsAfterItsDeadlineAndGrace()
    {
        var time = new ManualTime(DateTimeOffset.UtcNow);
        var batcher = StartBatcher(time);
        var publish = Publish(Command("a"));
        batcher.Tell(publish);
        _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        Assert.False(publish.Completion.Task.IsCompleted);
        time.Now = time.Now.AddSeconds(3);
        // The expiry timer ticks every second. Never cut, or cut and its answer lost with the sequencer: not known which.
        var error = await Assert.ThrowsAsync<OutcomeUnknownException>(() => publish.Completion.Task.WaitAsync(Wait));
        Assert.Contains("outcome is unknown", error.Message);

        // A late answer for it changes nothing.
        batcher.Tell(new SequencerProtocol.Committed(1, [5]), _sequencer);
        var after = Publish(Command("a"));
        batcher.Tell(after);
        Assert.Single(_sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait).Commands);
    }

    [Fact]
    public void OnceTheSequencerAnswersFromThisNode_BatchesGoStraightToIt_AndThroughTheProxyAgainWhenItStops()
    {
        // _sequencer plays the singleton proxy; this probe, the sequencer actor behind it.
        var sequencer = CreateTestProbe("local-sequencer");
        // Room for a batch sent to the stopped sequencer before the batcher hears it stopped.
        var batcher = StartBatcher(maxInFlight: 4);
        batcher.Tell(Publish(Command("a")));
        var first = _sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        batcher.Tell(new SequencerProtocol.Rejected(first.BatchId, "spec"), sequencer.Ref);

        batcher.Tell(Publish(Command("a")));
        var second = sequencer.ExpectMsg<SequencerProtocol.Publish>(Wait);
        _sequencer.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        // It stopped (a failed write, or the singleton moved): the proxy finds whoever comes next.
        Watch(sequencer.Ref);
        Sys.Stop(sequencer.Ref);
        ExpectTerminated(sequencer.Ref, Wait);
        batcher.Tell(new SequencerProtocol.Rejected(second.BatchId, "spec"), ActorRefs.NoSender);
        AwaitAssert(() =>
        {
            batcher.Tell(Publish(Command("a")));
            var third = _sequencer.ExpectMsg<SequencerProtocol.Publish>(TimeSpan.FromMilliseconds(500));
            batcher.Tell(new SequencerProtocol.Rejected(third.BatchId, "spec"), ActorRefs.NoSender);
        }, Wait);
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _journal.Dispose();
    }
}
