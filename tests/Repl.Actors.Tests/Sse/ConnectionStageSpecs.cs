using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Repl.Sse;

namespace Repl.Actors.Tests.Sse;

/// <summary>
/// A connection's stage, against a real log reader and journal, run by the node's <see cref="SseStreams"/> (in its host)
/// and writing to a <see cref="RecordingWriter"/>: each flush is a round.
/// </summary>
public sealed class ConnectionStageSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    public ConnectionStageSpecs() : base(SseGraphFixture.Config)
    {
    }

    private readonly List<SseStreams> _streams = [];

    protected override void Dispose(bool disposing)
    {
        foreach (var streams in _streams) streams.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>One stream as the node runs it. Abort counts into <paramref name="aborted"/>, if given.</summary>
    private (RecordingWriter Writer, Task Ended) Run(SseGraphFixture fixture, SseConnection connection, SseOptions? options = null, CancellationToken stop = default,
        StrongBox<int>? aborted = null)
    {
        var streams = new SseStreams(Sys, Options.Create(options ?? new SseOptions { CoalesceWindow = TimeSpan.Zero }), fixture.Counters);
        _streams.Add(streams);
        var writer = new RecordingWriter();
        var abortCount = aborted ?? new StrongBox<int>();
        var ended = streams.RunAsync(connection, writer, () => Interlocked.Increment(ref abortCount.Value), stop);
        return (writer, ended);
    }

    [Fact]
    public async Task FirstRound_SaysConnected_ThenOneRoundCarriesAWholeBatch_InLogOrder()
    {
        await using var fixture = new SseGraphFixture(1024, "a", "b");
        var (writer, _) = Run(fixture, fixture.Connection(null, "a", "b"));

        var connected = (await writer.NextAsync(Wait)).Events;
        Assert.Equal("connected", Assert.Single(connected).Type);
        Assert.Equal(fixture.Position, JsonDocument.Parse(connected[0].Data).RootElement.GetProperty("position").GetInt64());

        long last = fixture.Publish(50, "a", "b");
        var round = await writer.NextAsync(Wait);
        Assert.Equal(100, round.Messages);
        Assert.Equal(Enumerable.Range((int)(last - 99), 100).Select(position => (long)position), round.Positions);
    }

    [Fact]
    public async Task WhatIsAppliedBetweenTheConnectionAndTheGraphsStart_IsTheFirstRound()
    {
        // The host fixes a connection's start before it writes the head; the graph starts after. A message committed
        // in between is after the head as the client sees it, so the stream must deliver it.
        await using var fixture = new SseGraphFixture(1024, "a");
        var connection = fixture.Connection(null, "a");
        long published = fixture.Publish(3, "a");
        var (writer, _) = Run(fixture, connection);

        var round = await writer.NextAsync(Wait);
        Assert.Equal("connected", round.Events[0].Type);
        Assert.Equal(published - 3, JsonDocument.Parse(round.Events[0].Data).RootElement.GetProperty("position").GetInt64());
        Assert.Equal([published - 2, published - 1, published], round.Positions);
    }

    [Fact]
    public async Task IsWokenOncePerBatch_AndNotAtAllWhileAFlushWaits()
    {
        await using var fixture = new SseGraphFixture(1024, "a", "b");
        var (writer, _) = Run(fixture, fixture.Connection(null, "a", "b"));
        await writer.NextAsync(Wait); // connected

        // The client stops reading: the next flush waits.
        writer.Hold();
        fixture.Publish(20, "a");
        Assert.Equal(20, (await writer.NextAsync(Wait)).Messages);
        // Once, or not at all if the round came in after the batch and found it.
        long wakes = fixture.Counters.Wakes;
        Assert.True(wakes <= 1, $"woken {wakes} times for one batch");

        // A flush waiting: ten batches wake nothing, and once it is done the next round takes them all.
        for (int i = 0; i < 10; i++) fixture.Publish(3, "a");
        Assert.Equal(wakes, fixture.Counters.Wakes);
        writer.Release();
        Assert.Equal(30, (await writer.NextAsync(Wait)).Messages);
        // Counted once each flush is done, which the writer sees just after the round.
        await AwaitAssertAsync(() => Assert.Equal(50, fixture.Counters.Delivered), Wait);

        // Nothing new: no round, however long the client waits.
        await writer.ExpectNoRoundAsync(TimeSpan.FromMilliseconds(300));
        Assert.Equal(wakes, fixture.Counters.Wakes);

        // A batch to both topics of a two-topic stream (two notifications) wakes it at most once.
        fixture.Publish(2, "a", "b");
        Assert.Equal(4, (await writer.NextAsync(Wait)).Messages);
        Assert.True(fixture.Counters.Wakes <= wakes + 1, $"woken {fixture.Counters.Wakes - wakes} times for one batch");
    }

    [Fact]
    public async Task ABusyStream_WaitsForItsCoalescingWindow_ThenTakesEverythingPending()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var (writer, _) = Run(fixture, fixture.Connection(null, "a"), new SseOptions { CoalesceWindow = TimeSpan.FromSeconds(2) });
        await writer.NextAsync(Wait); // connected: the stream has just written

        fixture.Publish(1, "a");
        fixture.Publish(2, "a");
        fixture.Publish(3, "a");
        Assert.Equal(6, (await writer.NextAsync(Wait)).Messages);
        Assert.True(fixture.Counters.Wakes <= 1, $"woken {fixture.Counters.Wakes} times inside one window");
    }

    [Fact]
    public async Task AStreamWhoseRoundWasCutShortByItsByteBudget_IsNotHeldForTheWindow()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        fixture.Publish(4, "a");
        // One frame a round (the budget always lets one through), and a window far longer than the wait below.
        var (writer, _) = Run(fixture, fixture.Connection(0, "a"), new SseOptions { CoalesceWindow = TimeSpan.FromMinutes(1), MaxWriteBytes = 1 });
        Assert.Equal(1, (await writer.NextAsync(Wait)).Messages);

        // Behind, so each next round goes at once, until the stream has caught up.
        for (int i = 0; i < 3; i++) Assert.Equal(1, (await writer.NextAsync(Wait)).Messages);
        fixture.Publish(1, "a");
        await writer.ExpectNoRoundAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task AStreamFarBehind_GoesOnPastItsInlineRounds_AndGetsEveryMessageOnce()
    {
        // One frame a round: 100 rounds flushed at once, several times ConnectionStage.InlineRounds.
        await using var fixture = new SseGraphFixture(1024, "a");
        long last = fixture.Publish(100, "a");
        var (writer, _) = Run(fixture, fixture.Connection(0, "a"), new SseOptions { CoalesceWindow = TimeSpan.FromMinutes(1), MaxWriteBytes = 1 });

        var positions = new List<long>();
        while (positions.Count < 100) positions.AddRange((await writer.NextAsync(Wait)).Positions);
        Assert.Equal(Enumerable.Range((int)(last - 99), 100).Select(position => (long)position), positions);
        Assert.Equal(0, fixture.Counters.Wakes);
    }

    [Fact]
    public async Task ACursorBehindTheRing_IsServedFromTheJournal_WithAGapForWhatRetentionRemoved()
    {
        await using var fixture = new SseGraphFixture(8, "a");
        long first = fixture.Position + 1;
        fixture.Publish(10, "a");
        long trimmed = fixture.Truncate("a"); // removes the ten
        long from = fixture.Publish(30, "a") - 29;
        var (writer, _) = Run(fixture, fixture.Connection(first, "a"), new SseOptions { CoalesceWindow = TimeSpan.Zero, JournalPageSize = 16 });

        var events = new List<SseEvent>();
        while (events.Count(e => e.Type == "message") < 30) events.AddRange((await writer.NextAsync(Wait)).Events);

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
        var (writer, ended) = Run(fixture, fixture.Connection(null, "a", "b"));
        await writer.NextAsync(Wait);

        fixture.Delete("a");
        Assert.Equal(["deleted"], (await writer.NextAsync(Wait)).Types);
        fixture.Delete("b");
        var last = (await writer.NextAsync(Wait)).Events;
        Assert.Equal("b", JsonDocument.Parse(Assert.Single(last, e => e.Type == "deleted").Data).RootElement.GetProperty("topic").GetString());
        await ended.WaitAsync(Wait);
    }

    [Fact]
    public async Task AStreamThatEndsWithAFlushWaiting_CompletesOnlyOnceTheFlushIsDone()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var aborted = new StrongBox<int>();
        var (writer, ended) = Run(fixture, fixture.Connection(null, "a"), aborted: aborted);
        await writer.NextAsync(Wait);

        // The last round's flush waits: the stream has ended, but the request's task waits for the flush.
        writer.Hold();
        fixture.Delete("a");
        Assert.Equal(["deleted"], (await writer.NextAsync(Wait)).Types);
        await Task.Delay(300);
        Assert.False(ended.IsCompleted);
        Assert.Equal(1, fixture.Counters.Open);

        writer.Release();
        await ended.WaitAsync(Wait);
        Assert.Equal(0, fixture.Counters.Open);
        Assert.Equal(0, aborted.Value);
    }

    [Fact]
    public async Task AnExpiredToken_EndsTheStreamWithExpired()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var connection = fixture.Connection(null, "a");
        var (writer, ended) = Run(fixture, new SseConnection
        {
            Topics = connection.Topics,
            Registry = fixture.Registry,
            Journal = fixture.Journal,
            Node = "n1",
            Cursor = connection.Cursor,
            ExpiresAt = DateTimeOffset.UtcNow.AddMilliseconds(300),
        });
        await writer.NextAsync(Wait);
        Assert.Equal("expired", (await writer.NextAsync(Wait)).Events.Last().Type);
        await ended.WaitAsync(Wait);
        Assert.Equal(0, fixture.Topic("a").SubscriberCount);
    }

    [Fact]
    public async Task TheUnavailableToken_EndsTheStreamWithUnavailable()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        using var unavailable = new CancellationTokenSource();
        var connection = fixture.Connection(null, "a");
        var (writer, ended) = Run(fixture, new SseConnection
        {
            Topics = connection.Topics,
            Registry = fixture.Registry,
            Journal = fixture.Journal,
            Node = "n1",
            Cursor = connection.Cursor,
            Unavailable = unavailable.Token,
        });
        await writer.NextAsync(Wait);
        unavailable.Cancel();
        Assert.Equal("unavailable", (await writer.NextAsync(Wait)).Events.Last().Type);
        await ended.WaitAsync(Wait);
    }

    [Fact]
    public async Task AnIdleStream_GetsPings()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var (writer, _) = Run(fixture, fixture.Connection(null, "a"), new SseOptions { CoalesceWindow = TimeSpan.Zero, PingInterval = TimeSpan.FromMilliseconds(200) });
        await writer.NextAsync(Wait);
        Assert.Equal(["ping"], (await writer.NextAsync(Wait)).Types);
        Assert.Equal(["ping"], (await writer.NextAsync(Wait)).Types);
    }

    [Fact]
    public async Task TheStopToken_CompletesTheStream_AndUnsubscribes()
    {
        await using var fixture = new SseGraphFixture(1024, "a", "b");
        using var stop = new CancellationTokenSource();
        var (writer, ended) = Run(fixture, fixture.Connection(null, "a", "b"), stop: stop.Token);
        await writer.NextAsync(Wait);
        Assert.Equal(1, fixture.Topic("a").SubscriberCount);

        stop.Cancel();
        await ended.WaitAsync(Wait);
        Assert.Equal(0, fixture.Topic("a").SubscriberCount + fixture.Topic("b").SubscriberCount);
        Assert.Equal(0, fixture.Counters.Open);
    }

    [Fact]
    public async Task TheStopToken_WithAFlushWaiting_AbortsTheConnection_AndCompletes()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        using var stop = new CancellationTokenSource();
        var aborted = new StrongBox<int>();
        var (writer, ended) = Run(fixture, fixture.Connection(null, "a"), stop: stop.Token, aborted: aborted);
        await writer.NextAsync(Wait);
        writer.Hold();
        fixture.Publish(1, "a");
        await writer.NextAsync(Wait);

        // The flush never completes: the stream does not wait for it, it drops the connection.
        stop.Cancel();
        await ended.WaitAsync(Wait);
        Assert.Equal(1, aborted.Value);
        Assert.Equal(0, fixture.Topic("a").SubscriberCount);
        Assert.Equal(0, fixture.Counters.Open);
    }

    [Fact]
    public async Task AClientThatIsGone_EndsTheStream_AndUnsubscribes()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var (writer, ended) = Run(fixture, fixture.Connection(null, "a"));
        await writer.NextAsync(Wait);
        writer.Go();
        fixture.Publish(1, "a");
        await ended.WaitAsync(Wait);
        Assert.Equal(0, fixture.Topic("a").SubscriberCount);
        Assert.Equal(0, fixture.Counters.Open);
        Assert.Equal(0, fixture.Counters.Delivered);
    }

    [Fact]
    public async Task AFailure_EndsTheStreamWithIt_AndUnsubscribes()
    {
        await using var fixture = new SseGraphFixture(4, "a");
        fixture.Publish(10, "a");
        fixture.Journal.Dispose(); // the catch-up read fails
        var (_, ended) = Run(fixture, fixture.Connection(0, "a"));
        await Task.WhenAny(ended, Task.Delay(Wait));
        Assert.True(ended.IsFaulted, $"the stream's task is {ended.Status}");
        Assert.Equal(0, fixture.Topic("a").SubscriberCount);
        Assert.Equal(0, fixture.Counters.Open);
    }
}
