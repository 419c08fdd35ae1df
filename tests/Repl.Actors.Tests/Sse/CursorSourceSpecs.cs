using System.Text.Json;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using Repl.Sse;

namespace Repl.Actors.Tests.Sse;

/// <summary>The cursor source of a connection's graph, against a real log reader and journal, read by a probe sink.</summary>
public sealed class CursorSourceSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    public CursorSourceSpecs() : base(SseGraphFixture.Config)
    {
        Materializer = Sys.Materializer();
        Host = StreamHost.Start(Materializer, sweep: TimeSpan.FromMilliseconds(100));
    }

    private ActorMaterializer Materializer { get; }

    /// <summary>The graphs run in a host, as the node's do.</summary>
    private StreamHost.Handle Host { get; }

    private readonly List<CoalescingWindow> _windows = [];

    private CoalescingWindow Window(TimeSpan window)
    {
        var coalescing = new CoalescingWindow(window, Host);
        _windows.Add(coalescing);
        return coalescing;
    }

    protected override void Dispose(bool disposing)
    {
        foreach (var window in _windows) window.Dispose();
        base.Dispose(disposing);
    }

    private Task<TestSubscriber.Probe<WriteRound>> RunAsync(SseGraphFixture fixture, SseConnection connection, SseOptions? options = null, CancellationToken stop = default) =>
        Host.MaterializeAsync(Source.FromGraph(new CursorSource(connection, options ??= new SseOptions { CoalesceWindow = TimeSpan.Zero }, fixture.Counters,
            Window(options.CoalesceWindow), Host, stop)).ToMaterialized(this.SinkProbe<WriteRound>(), Keep.Right));

    [Fact]
    public async Task FirstRound_SaysConnected_ThenOneRoundCarriesAWholeBatch_InLogOrder()
    {
        await using var fixture = new SseGraphFixture(1024, "a", "b");
        var probe = await RunAsync(fixture, fixture.Connection(null, "a", "b"));

        var connected = SseGraphFixture.Events(probe.RequestNext(Wait));
        Assert.Equal("connected", Assert.Single(connected).Type);
        Assert.Equal(fixture.Position, JsonDocument.Parse(connected[0].Data).RootElement.GetProperty("position").GetInt64());

        long last = fixture.Publish(50, "a", "b");
        var round = probe.RequestNext(Wait);
        Assert.Equal(100, round.Messages);
        Assert.Equal(Enumerable.Range((int)(last - 99), 100).Select(position => (long)position), round.Frames.Select(frame => frame.Position));
        Assert.Equal(100, SseGraphFixture.Events(round).Count(e => e.Type == "message"));
    }

    [Fact]
    public async Task WhatIsAppliedBetweenTheConnectionAndTheGraphsStart_IsTheFirstRound()
    {
        // The host fixes a connection's start before it writes the head; the graph starts after. A message committed
        // in between is after the head as the client sees it, so the stream must deliver it.
        await using var fixture = new SseGraphFixture(1024, "a");
        var connection = fixture.Connection(null, "a");
        long published = fixture.Publish(3, "a");
        var probe = await RunAsync(fixture, connection);

        var round = probe.RequestNext(Wait);
        var events = SseGraphFixture.Events(round);
        Assert.Equal("connected", events[0].Type);
        Assert.Equal(published - 3, JsonDocument.Parse(events[0].Data).RootElement.GetProperty("position").GetInt64());
        Assert.Equal([published - 2, published - 1, published], round.Frames.Select(frame => frame.Position));
    }

    [Fact]
    public async Task IsWokenOncePerBatch_AndNotAtAllWhileTheSinkHasNotAskedForMore()
    {
        await using var fixture = new SseGraphFixture(1024, "a", "b");
        var probe = await RunAsync(fixture, fixture.Connection(null, "a", "b"));
        probe.RequestNext(Wait); // connected

        probe.Request(1);
        fixture.Publish(20, "a");
        Assert.Equal(20, probe.ExpectNext(Wait).Messages);
        // Once, or not at all if the pull came in after the batch and found it.
        long wakes = fixture.Counters.Wakes;
        Assert.True(wakes <= 1, $"woken {wakes} times for one batch");

        // No demand: ten batches wake nothing, and the next pull takes them all in one round.
        for (int i = 0; i < 10; i++) fixture.Publish(3, "a");
        Assert.Equal(wakes, fixture.Counters.Wakes);
        Assert.Equal(30, probe.RequestNext(Wait).Messages);

        // Nothing new: no round, however long the sink waits.
        probe.Request(1);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal(wakes, fixture.Counters.Wakes);

        // A batch to both topics of a two-topic stream (two notifications) wakes it at most once.
        fixture.Publish(2, "a", "b");
        Assert.Equal(4, probe.ExpectNext(Wait).Messages);
        Assert.True(fixture.Counters.Wakes <= wakes + 1, $"woken {fixture.Counters.Wakes - wakes} times for one batch");
    }

    [Fact]
    public async Task ABusyStream_WaitsForItsCoalescingWindow_ThenTakesEverythingPending()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var probe = await RunAsync(fixture, fixture.Connection(null, "a"), new SseOptions { CoalesceWindow = TimeSpan.FromSeconds(2) });
        probe.RequestNext(Wait); // connected: the stream has just written

        probe.Request(1);
        fixture.Publish(1, "a");
        fixture.Publish(2, "a");
        fixture.Publish(3, "a");
        Assert.Equal(6, probe.ExpectNext(Wait).Messages);
        Assert.True(fixture.Counters.Wakes <= 1, $"woken {fixture.Counters.Wakes} times inside one window");
    }

    [Fact]
    public async Task AStreamWhoseRoundWasCutShortByItsByteBudget_IsNotHeldForTheWindow()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        fixture.Publish(4, "a");
        // One frame a round (the budget always lets one through), and a window far longer than the wait below.
        var probe = await RunAsync(fixture, fixture.Connection(0, "a"), new SseOptions { CoalesceWindow = TimeSpan.FromMinutes(1), MaxWriteBytes = 1 });
        var first = probe.RequestNext(Wait);
        Assert.Equal(1, first.Messages);

        // Behind, so each next round goes at once, until the stream has caught up.
        for (int i = 0; i < 3; i++) Assert.Equal(1, probe.RequestNext(Wait).Messages);
        probe.Request(1);
        fixture.Publish(1, "a");
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task ACursorBehindTheRing_IsServedFromTheJournal_WithAGapForWhatRetentionRemoved()
    {
        await using var fixture = new SseGraphFixture(8, "a");
        long first = fixture.Position + 1;
        fixture.Publish(10, "a");
        long trimmed = fixture.Truncate("a"); // removes the ten
        long from = fixture.Publish(30, "a") - 29;
        var probe = await RunAsync(fixture, fixture.Connection(first, "a"), new SseOptions { CoalesceWindow = TimeSpan.Zero, JournalPageSize = 16 });

        var events = new List<SseEvent>();
        while (events.Count(e => e.Type == "message") < 30) events.AddRange(SseGraphFixture.Events(probe.RequestNext(Wait)));

        Assert.Equal(["connected", "gap"], events.Take(2).Select(e => e.Type));
        var gap = JsonDocument.Parse(events[1].Data).RootElement;
        Assert.Equal(first, gap.GetProperty("requested").GetInt64());
        Assert.True(gap.GetProperty("oldest").GetInt64() > trimmed);
        Assert.Equal(Enumerable.Range((int)from, 30).Select(p => $"{p}@{fixture.Registry.Epoch}"), events.Where(e => e.Type == "message").Select(e => e.Id));
        Assert.Equal(1, fixture.Counters.Gaps);
    }

    [Fact]
    public async Task WhenEveryTopicIsDeleted_SaysDeletedForEach_AndCompletes()
    {
        await using var fixture = new SseGraphFixture(1024, "a", "b");
        var probe = await RunAsync(fixture, fixture.Connection(null, "a", "b"));
        probe.RequestNext(Wait);

        probe.Request(1);
        fixture.Delete("a");
        Assert.Equal(["deleted"], SseGraphFixture.Events(probe.ExpectNext(Wait)).Select(e => e.Type));
        fixture.Delete("b");
        var last = SseGraphFixture.Events(probe.RequestNext(Wait));
        Assert.Equal("b", JsonDocument.Parse(Assert.Single(last, e => e.Type == "deleted").Data).RootElement.GetProperty("topic").GetString());
        probe.ExpectComplete();
    }

    [Fact]
    public async Task AnExpiredToken_EndsTheStreamWithExpired()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var connection = fixture.Connection(null, "a");
        var probe = await RunAsync(fixture, new SseConnection
        {
            Topics = connection.Topics, Registry = fixture.Registry, Journal = fixture.Journal, Node = "n1", Cursor = connection.Cursor,
            ExpiresAt = DateTimeOffset.UtcNow.AddMilliseconds(300),
        });
        probe.RequestNext(Wait);
        Assert.Equal("expired", SseGraphFixture.Events(probe.RequestNext(Wait)).Last().Type);
        probe.ExpectComplete();
        Assert.Equal(0, fixture.Topic("a").SubscriberCount);
    }

    [Fact]
    public async Task TheUnavailableToken_EndsTheStreamWithUnavailable()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        using var unavailable = new CancellationTokenSource();
        var connection = fixture.Connection(null, "a");
        var probe = await RunAsync(fixture, new SseConnection
        {
            Topics = connection.Topics, Registry = fixture.Registry, Journal = fixture.Journal, Node = "n1", Cursor = connection.Cursor, Unavailable = unavailable.Token,
        });
        probe.RequestNext(Wait);
        probe.Request(1);
        unavailable.Cancel();
        Assert.Equal("unavailable", SseGraphFixture.Events(probe.ExpectNext(Wait)).Last().Type);
        probe.ExpectComplete();
    }

    [Fact]
    public async Task AnIdleStream_GetsPings()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var probe = await RunAsync(fixture, fixture.Connection(null, "a"), new SseOptions { CoalesceWindow = TimeSpan.Zero, PingInterval = TimeSpan.FromMilliseconds(200) });
        probe.RequestNext(Wait);
        Assert.Equal(["ping"], SseGraphFixture.Events(probe.RequestNext(Wait)).Select(e => e.Type));
        Assert.Equal(["ping"], SseGraphFixture.Events(probe.RequestNext(Wait)).Select(e => e.Type));
    }

    [Fact]
    public async Task TheStopToken_CompletesTheStream_AndUnsubscribes()
    {
        await using var fixture = new SseGraphFixture(1024, "a", "b");
        using var stop = new CancellationTokenSource();
        var probe = await RunAsync(fixture, fixture.Connection(null, "a", "b"), stop: stop.Token);
        probe.RequestNext(Wait);
        Assert.Equal(1, fixture.Topic("a").SubscriberCount);

        stop.Cancel();
        probe.ExpectComplete();
        await AwaitAssertAsync(() => Assert.Equal(0, fixture.Topic("a").SubscriberCount + fixture.Topic("b").SubscriberCount), Wait);
        Assert.Equal(0, fixture.Counters.Open);
    }

    [Fact]
    public async Task ACancellingSink_Unsubscribes()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var probe = await RunAsync(fixture, fixture.Connection(null, "a"));
        probe.RequestNext(Wait);
        probe.Cancel();
        await AwaitAssertAsync(() => Assert.Equal(0, fixture.Topic("a").SubscriberCount), Wait);
        Assert.Equal(0, fixture.Counters.Open);
    }

    [Fact]
    public async Task AFailure_Unsubscribes()
    {
        await using var fixture = new SseGraphFixture(4, "a");
        fixture.Publish(10, "a");
        fixture.Journal.Dispose(); // the catch-up read fails
        var probe = await RunAsync(fixture, fixture.Connection(0, "a"));
        probe.Request(1);
        probe.ExpectError();
        await AwaitAssertAsync(() => Assert.Equal(0, fixture.Topic("a").SubscriberCount), Wait);
        Assert.Equal(0, fixture.Counters.Open);
    }
}
