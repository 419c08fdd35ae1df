using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using Akka.Streams.TestKit;
using Repl.Actors.Sequencer;
using Repl.Sse;

namespace Repl.Actors.Tests.Sse;

/// <summary>The host the node's SSE graphs run in: one actor for all of them, each graph still on its own.</summary>
public sealed class StreamHostSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    public StreamHostSpecs() : base(SseGraphFixture.Config)
    {
        Materializer = Sys.Materializer();
        Host = StreamHost.Start(Materializer);
    }

    private ActorMaterializer Materializer { get; }

    private StreamHost.Handle Host { get; }

    private Task<(TestPublisher.Probe<int> Source, TestSubscriber.Probe<int> Sink)> RunAsync() =>
        Host.MaterializeAsync(this.SourceProbe<int>().ToMaterialized(this.SinkProbe<int>(), Keep.Both));

    [Fact]
    public async Task ManyGraphs_RunInTheHostsOneActor()
    {
        var graphs = new List<(TestPublisher.Probe<int> Source, TestSubscriber.Probe<int> Sink)>();
        for (int i = 0; i < 20; i++) graphs.Add(await RunAsync());
        foreach (var (source, sink) in graphs)
        {
            sink.Request(1);
            source.SendNext(7);
            sink.ExpectNext(7, Wait);
        }

        // The materializer's supervisor has one child, the host, however many graphs run.
        Assert.Equal(1, await CountChildrenAsync(Materializer.Supervisor));
    }

    [Fact]
    public async Task AGraphThatFails_EndsAlone()
    {
        var failing = await RunAsync();
        var other = await RunAsync();

        failing.Sink.EnsureSubscription();
        failing.Source.SendError(new InvalidOperationException("boom"));
        Assert.Equal("boom", failing.Sink.ExpectError().Message);

        other.Sink.Request(1);
        other.Source.SendNext(1);
        other.Sink.ExpectNext(1, Wait);
    }

    [Fact]
    public async Task AStageThatThrowsInACallbackTheHostCalls_EndsItsStreamOnly()
    {
        var throwing = await Host.MaterializeAsync(Source.FromGraph(new ThrowOnWake(Host)).ToMaterialized(this.SinkProbe<int>(), Keep.Both));
        var other = await RunAsync();

        throwing.Item2.EnsureSubscription();
        throwing.Item1.Wake();
        Assert.Equal("boom", throwing.Item2.ExpectError().Message);

        other.Sink.Request(1);
        other.Source.SendNext(1);
        other.Sink.ExpectNext(1, Wait);
        var again = await RunAsync();
        again.Sink.Request(1);
        again.Source.SendNext(2);
        again.Sink.ExpectNext(2, Wait);
    }

    [Fact]
    public async Task AHostWhoseActorDies_IsReplaced_ItsGraphsEnd_AndNewGraphsAndWakesWork()
    {
        var before = await Host.MaterializeAsync(Source.Never<int>().WatchTermination(Keep.Right).To(Sink.Ignore<int>()));
        var actor = Assert.Single(await ChildrenAsync(Materializer.Supervisor));
        Watch(actor);
        actor.Tell(Kill.Instance);
        await ExpectTerminatedAsync(actor, Wait);
        // A graph of the dead host ended with it (its stages' PostStop ran).
        await Assert.ThrowsAsync<AbruptStageTerminationException>(() => before.WaitAsync(Wait));

        var after = await RunAsync();
        after.Sink.Request(1);
        after.Source.SendNext(3);
        after.Sink.ExpectNext(3, Wait);
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Host.Wake(woken.SetResult);
        await woken.Task.WaitAsync(Wait);
        Assert.NotEqual(actor, Assert.Single(await ChildrenAsync(Materializer.Supervisor)));
    }

    [Fact]
    public async Task AHostWhoseStageFails_IsReplaced_AndItsGraphsGoOn()
    {
        var before = await RunAsync();
        Host.Wake(() => throw new InvalidOperationException("a callback that throws"));

        var after = await RunAsync();
        after.Sink.Request(1);
        after.Source.SendNext(4);
        after.Sink.ExpectNext(4, Wait);
        // The old host's actor still runs the graphs it holds.
        before.Sink.Request(1);
        before.Source.SendNext(5);
        before.Sink.ExpectNext(5, Wait);
    }

    [Fact]
    public async Task AHostWhoseMaterializerShutsDown_IsNotReplaced_AndRefusesNewGraphs()
    {
        var materializer = Sys.Materializer();
        var host = StreamHost.Start(materializer);
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Wake(woken.SetResult);
        await woken.Task.WaitAsync(Wait);

        materializer.Shutdown();
        await Assert.ThrowsAsync<StreamDetachedException>(() =>
            host.MaterializeAsync(this.SourceProbe<int>().ToMaterialized(this.SinkProbe<int>(), Keep.Both)).WaitAsync(Wait));
    }

    [Fact]
    public async Task Wake_CallsBack_AndManyWakesAllArrive()
    {
        int called = 0;
        for (int i = 0; i < 1000; i++) Host.Wake(() => Interlocked.Increment(ref called));
        await AwaitConditionAsync(() => Task.FromResult(Volatile.Read(ref called) == 1000), Wait);
    }

    [Fact]
    public async Task AfterEachRunOfWakes_TheHostReportsTheMeanLagOfTheRoundsWritten_EachCountedAtMostARing()
    {
        var backlog = new StreamBacklog(limit: 100);
        var host = StreamHost.Start(Materializer, backlog);

        // Three rounds, one of a client far behind: (50 + 50 + min(10,000, 4 × 100)) / 3.
        host.Wake(() =>
        {
            host.Served(50);
            host.Served(50);
            host.Served(10_000);
        });
        await AwaitConditionAsync(() => Task.FromResult(backlog.Behind == 166), Wait);
        Assert.True(backlog.IsBehind);

        // A batch waiting for the streams makes the host report again with no stream woken: nothing written, caught up.
        var caughtUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.True(backlog.Hold(() => caughtUp.SetResult()));
        backlog.HoldStarted();
        await caughtUp.Task.WaitAsync(Wait);
        Assert.Equal(0, backlog.Behind);
    }

    [Fact]
    public async Task TheSweep_TellsTheStreamsDue_UntilTheyLeave()
    {
        var host = StreamHost.Start(Materializer, sweep: TimeSpan.FromMilliseconds(50));
        var due = new SweptStream(isDue: true);
        var idle = new SweptStream(isDue: false);
        host.Register(due);
        host.Register(idle);

        await AwaitConditionAsync(() => Task.FromResult(due.Swept >= 2), Wait);
        Assert.Equal(0, idle.Swept);

        // Out of the sweep: at most a wake already queued reaches it, while another stream is swept on.
        host.Unregister(due);
        int before = due.Swept;
        var later = new SweptStream(isDue: true);
        host.Register(later);
        await AwaitConditionAsync(() => Task.FromResult(later.Swept >= 3), Wait);
        Assert.InRange(due.Swept, before, before + 1);
    }

    private async Task<int> CountChildrenAsync(IActorRef parent) => (await ChildrenAsync(parent)).Count;

    private async Task<List<IActorRef>> ChildrenAsync(IActorRef parent)
    {
        var probe = CreateTestProbe();
        Sys.ActorSelection(parent.Path / "*").Tell(new Identify(null), probe.Ref);
        var children = new List<IActorRef>();
        while (await probe.ReceiveOneAsync(TimeSpan.FromMilliseconds(500)) is ActorIdentity { Subject: { } child }) children.Add(child);
        return children;
    }

    /// <summary>A stream as the sweep sees it, counting the sweep's signals.</summary>
    private sealed class SweptStream : ISweptStream
    {
        private readonly bool _isDue;
        private int _swept;

        public SweptStream(bool isDue)
        {
            _isDue = isDue;
            Callback = what =>
            {
                Assert.Same(StreamSignal.Sweep, what);
                Interlocked.Increment(ref _swept);
            };
        }

        public int Swept => Volatile.Read(ref _swept);

        public Action<object> Callback { get; }

        public bool IsDue(long nowMs) => _isDue;

        public SseConnection Connection => null!;
    }

    /// <summary>A source whose async callback, called through the host, throws.</summary>
    private sealed class ThrowOnWake(StreamHost.Handle host) : GraphStageWithMaterializedValue<SourceShape<int>, ThrowOnWake.Waker>
    {
        private readonly Outlet<int> _out = new("throw.out");

        public override SourceShape<int> Shape => new(_out);

        public override ILogicAndMaterializedValue<Waker> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
        {
            var waker = new Waker(host);
            return new LogicAndMaterializedValue<Waker>(new Logic(this, waker), waker);
        }

        public sealed class Waker(StreamHost.Handle host)
        {
            internal Action Callback { get; set; } = static () => { };

            public void Wake() => host.Wake(Callback);
        }

        private sealed class Logic : GraphStageLogic
        {
            private readonly Waker _waker;

            public Logic(ThrowOnWake stage, Waker waker) : base(stage.Shape)
            {
                _waker = waker;
                SetHandler(stage._out, onPull: static () => { });
            }

            public override void PreStart() => _waker.Callback = GetAsyncCallback(() => throw new InvalidOperationException("boom"));
        }
    }
}
