using System.Text;
using Akka.Actor;
using Akka.Pattern;
using Akka.Persistence;
using Akka.Persistence.TestKit;
using Repl.Actors.Log;
using Repl.Actors.Sequencer;
using Repl.Actors.Tests.Specs;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Sequencer;

/// <summary>
/// The sequencer on Akka.Persistence.TestKit's journal, told to fail writes: what its callers hear, and how the
/// backoff supervisor (as <see cref="Hosting.ReplEngineHosting.WithReplSequencer"/> builds it) brings a new one.
/// </summary>
public sealed class SequencerActorFailingJournalSpec : Akka.TestKit.Xunit2.TestKit
{
    // serialize-messages is off here, and only here: the journal's failure answers (WriteMessageFailure and its kin)
    // carry the exception, which Akka's default JSON serializer cannot round-trip. Those messages never leave the node.
    private const string TestPlugins = """
        akka.actor.serialize-messages = off
        akka.persistence {
          journal {
            plugin = "akka.persistence.journal.test"
            test {
              class = "Akka.Persistence.TestKit.TestJournal, Akka.Persistence.TestKit"
              plugin-dispatcher = "akka.actor.default-dispatcher"
            }
          }
          snapshot-store {
            plugin = "akka.persistence.snapshot-store.test"
            test {
              class = "Akka.Persistence.TestKit.TestSnapshotStore, Akka.Persistence.TestKit"
              plugin-dispatcher = "akka.actor.default-dispatcher"
            }
          }
        }
        """;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SpecJournal _unused;

    public SequencerActorFailingJournalSpec(ITestOutputHelper output) : this(SpecJournal.Create(), output)
    {
    }

    private SequencerActorFailingJournalSpec(SpecJournal journal, ITestOutputHelper output)
        : base(ReplSpec.Setup(journal.Journal, ReplSpec.Config(TestPlugins, ReplSpec.LocalHocon)), "failing-journal-spec", output)
    {
        _unused = journal;
    }

    private ITestJournal Journal => TestJournal.FromRef(Akka.Persistence.Persistence.Instance.Apply(Sys).JournalFor(null));

    private static long Future => DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds();

    private static SequencerProtocol.Publish Publish(long batch, string topic) =>
        new(batch, [new PublishCommand(topic, Encoding.UTF8.GetBytes("{}"), 0)], Future);

    /// <summary>The props <see cref="Hosting.ReplEngineHosting.WithReplSequencer"/> gives the singleton.</summary>
    private IActorRef StartSupervised()
    {
        var sequencer = SequencerActor.Props(new SequencerProtocol.Settings(4096, 10_000, null), TimeProvider.System);
        return Sys.ActorOf(BackoffSupervisor.Props(Backoff.OnStop(sequencer, "log", TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(3), 0.2, -1)
            .WithFinalStopMessage(message => message is SequencerProtocol.Drain)), "sequencer");
    }

    private IActorRef CurrentChild(IActorRef supervisor)
    {
        supervisor.Tell(BackoffSupervisor.GetCurrentChild.Instance);
        return ExpectMsg<BackoffSupervisor.CurrentChild>(Wait).Ref;
    }

    [Fact]
    public async Task FailedWrite_OfAnUnknownCause_TellsEveryCallerItsOutcomeIsUnknown_AndANewIncarnationTakesLaterPublishes()
    {
        var supervisor = StartSupervised();
        supervisor.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "a", 0, Future));
        Assert.Equal(1, ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position);
        var first = CurrentChild(supervisor);
        Watch(first);

        await Journal.OnWrite.Fail();
        var callers = Enumerable.Range(0, 3).Select(_ => CreateTestProbe()).ToArray();
        for (int i = 0; i < callers.Length; i++) supervisor.Tell(Publish(10 + i, "a"), callers[i].Ref);
        // The first publish's write fails, and nothing says it committed nothing (a journal that lost its answer fails
        // the same way): its caller is told the outcome is unknown, never "not committed". Those queued behind it were
        // never cut: not committed.
        var unknown = callers[0].ExpectMsg<SequencerProtocol.OutcomeUnknown>(Wait);
        Assert.Equal(10, unknown.BatchId);
        Assert.Contains("outcome is unknown", unknown.Reason);
        for (int i = 1; i < callers.Length; i++)
        {
            var answer = callers[i].ExpectMsg<object>(Wait);
            // Cut into the failed write (unknown) or still queued when it stopped (not committed), as timing has it.
            Assert.True(answer is SequencerProtocol.OutcomeUnknown { BatchId: var u } && u == 10 + i || answer is SequencerProtocol.Rejected { BatchId: var r } && r == 10 + i,
                $"caller {i}: {answer}");
        }
        ExpectTerminated(first, Wait);

        await Journal.OnWrite.Pass();
        IActorRef second = ActorRefs.Nobody;
        AwaitAssert(() =>
        {
            second = CurrentChild(supervisor);
            Assert.False(second.IsNobody());
            Assert.NotEqual(first, second);
        }, Wait, TimeSpan.FromMilliseconds(50));

        // The new incarnation recovered the topic and the head: the failed write left no position behind.
        supervisor.Tell(Publish(20, "a"));
        var committed = ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal(20, committed.BatchId);
        Assert.Equal([2L], committed.Positions);
    }

    [Fact]
    public async Task FailedWrite_TheJournalKnowsCommittedNothing_IsAnsweredNotCommitted()
    {
        var supervisor = StartSupervised();
        supervisor.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "a", 0, Future));
        ExpectMsg<SequencerProtocol.TopicChanged>(Wait);

        // What the Repl journals throw for a write refused before or by the log (a failed compare, a rolled-back transaction).
        await Journal.OnWrite.SetInterceptorAsync(new Throwing(new LogUnavailableException("the cluster log moved on under this sequencer; nothing was committed")));
        supervisor.Tell(Publish(10, "a"));
        var rejected = ExpectMsg<SequencerProtocol.Rejected>(Wait);
        Assert.Equal(10, rejected.BatchId);
        Assert.Contains("nothing of it was committed", rejected.Reason);
    }

    [Fact]
    public async Task FailedTopicChange_OfAnUnknownCause_IsAnsweredOutcomeUnknown()
    {
        var supervisor = StartSupervised();
        supervisor.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "a", 0, Future));
        ExpectMsg<SequencerProtocol.TopicChanged>(Wait);

        await Journal.OnWrite.SetInterceptorAsync(new Throwing(new TimeoutException("the journal's answer did not come")));
        supervisor.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.DeleteTopic, "a", 0, Future));
        Assert.Equal(0, ExpectMsg<SequencerProtocol.OutcomeUnknown>(Wait).BatchId);
    }

    [Fact]
    public async Task Writes_AreCutAtOneTransaction_BetweenBatches_NeverInsideOne()
    {
        // Room for two one-message batches in a write, not three.
        long one = Repl.Actors.Etcd.LogBatchCodec.SizeOf(Publish(0, "a").Commands);
        var settings = new SequencerProtocol.Settings(4096, 10_000, null) { MaxWriteBytes = (int)(2 * one) };
        var sequencer = Sys.ActorOf(SequencerActor.Props(settings, TimeProvider.System));
        sequencer.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "a", 0, Future));
        ExpectMsg<SequencerProtocol.TopicChanged>(Wait);

        // Position 2's write is slow, so batches 2 to 4 queue behind it; position 4 fails. Cut at two batches, the
        // failed write is [2 3]: their callers hear "unknown", and batch 4, never cut, "not committed". One write of
        // all three would have answered all three "unknown".
        var slow = new TaskCompletionSource();
        await Journal.OnWrite.SetInterceptorAsync(new Interceptor(async message =>
        {
            if (message.SequenceNr == 2) await slow.Task;
            if (message.SequenceNr == 4) throw new TimeoutException("the journal's answer did not come");
        }));
        var callers = Enumerable.Range(0, 4).Select(_ => CreateTestProbe()).ToArray();
        for (int i = 0; i < callers.Length; i++) sequencer.Tell(Publish(1 + i, "a"), callers[i].Ref);
        // In the mailbox ahead of the slow write's answer, so queued behind it.
        slow.SetResult();

        Assert.Equal([2L], callers[0].ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
        Assert.Equal(2, callers[1].ExpectMsg<SequencerProtocol.OutcomeUnknown>(Wait).BatchId);
        Assert.Equal(3, callers[2].ExpectMsg<SequencerProtocol.OutcomeUnknown>(Wait).BatchId);
        Assert.Equal(4, callers[3].ExpectMsg<SequencerProtocol.Rejected>(Wait).BatchId);
    }

    private sealed class Throwing(Exception error) : IJournalInterceptor
    {
        public Task InterceptAsync(IPersistentRepresentation message) => Task.FromException(error);
    }

    private sealed class Interceptor(Func<IPersistentRepresentation, Task> intercept) : IJournalInterceptor
    {
        public Task InterceptAsync(IPersistentRepresentation message) => intercept(message);
    }

    [Fact]
    public async Task RejectedWrite_RejectsTheCallerOnce_AndANewIncarnationRecoversTheJournalsTruth()
    {
        var supervisor = StartSupervised();
        supervisor.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "a", 0, Future));
        ExpectMsg<SequencerProtocol.TopicChanged>(Wait);
        var first = CurrentChild(supervisor);
        Watch(first);

        await Journal.OnWrite.Reject();
        supervisor.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "b", 0, Future));
        Assert.Equal(0, ExpectMsg<SequencerProtocol.Rejected>(Wait).BatchId);
        // One answer: the rejected write is not reported committed as well, before or after the incarnation stops.
        ExpectTerminated(first, Wait);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        await Journal.OnWrite.Pass();
        AwaitAssert(() => Assert.False(CurrentChild(supervisor).IsNobody()), Wait, TimeSpan.FromMilliseconds(50));
        // "b" was never written: the new incarnation does not know it, and the rejected write spent no position.
        supervisor.Tell(new SequencerProtocol.Publish(4, [new PublishCommand("b", Encoding.UTF8.GetBytes("{}"), 0), new PublishCommand("a", Encoding.UTF8.GetBytes("{}"), 0)], Future));
        var committed = ExpectMsg<SequencerProtocol.Committed>(Wait);
        Assert.Equal(4, committed.BatchId);
        Assert.Equal([0L, 2L], committed.Positions);
    }

    [Fact]
    public void Drain_ThroughTheSupervisor_StopsTheChildAndTheSupervisor()
    {
        var supervisor = StartSupervised();
        supervisor.Tell(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "a", 0, Future));
        ExpectMsg<SequencerProtocol.TopicChanged>(Wait);
        Watch(supervisor);
        supervisor.Tell(Publish(1, "a"));
        supervisor.Tell(SequencerProtocol.Drain.Instance);
        Assert.Equal([2L], ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
        ExpectTerminated(supervisor, Wait);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _unused.Dispose();
    }
}
