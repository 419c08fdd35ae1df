using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
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

    private async Task<int> CountChildrenAsync(IActorRef parent)
    {
        var probe = CreateTestProbe();
        Sys.ActorSelection(parent.Path / "*").Tell(new Identify(null), probe.Ref);
        int count = 0;
        while (await probe.ReceiveOneAsync(TimeSpan.FromMilliseconds(500)) is ActorIdentity { Subject: not null }) count++;
        return count;
    }
}
