using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Repl.Cluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Repl.Cluster.Tests.Broker;

/// <summary>
/// The sequencer's node dies or freezes while every broker publishes: what was acknowledged is delivered once on the
/// survivors, retries with the same idempotency key commit once, publishing resumes within 15 s, and a frozen
/// sequencer that wakes up commits nothing.
/// </summary>
[Collection(ReplClusterCollection.Name)]
public sealed class SequencerHandoverTests(ReplClusterFixture cluster, ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Handover = TimeSpan.FromSeconds(15);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => cluster.HealAsync();

    [Fact]
    public async Task SequencerNodeKilledMidPublish_AcknowledgedMessagesAreDeliveredOnceOnTheSurvivors_AndPublishingResumes()
    {
        var nodes = await cluster.SequencerFirstAsync();
        var victim = nodes[0];
        var survivors = nodes.Skip(1).ToArray();

        var run = await PublishThroughAsync(survivors, () => victim.Kill());

        output.WriteLine($"kill -9 of the sequencer's node: {run.Acked.Count} acknowledged, longest time without an acknowledgement {run.LongestGap.TotalSeconds:0.0} s");
        Assert.InRange(run.LongestGap, TimeSpan.Zero, Handover);
        await AssertDeliveredOnceAsync(survivors[1], run);
    }

    [Fact]
    public async Task SequencerNodeFrozenPastTheResolver_IsDownedAndItsSuccessorGoesOn_AndOnWakingItCommitsNothing()
    {
        var nodes = await cluster.SequencerFirstAsync();
        var zombie = nodes[0];
        var survivors = nodes.Skip(1).ToArray();
        var run = await PublishThroughAsync(survivors, zombie.Pause);
        try
        {
            // Frozen well past failure detection and the resolver's stable-after: it has been downed, and its lease expired.
            output.WriteLine($"SIGSTOP of the sequencer's node: {run.Acked.Count} acknowledged, longest time without an acknowledgement {run.LongestGap.TotalSeconds:0.0} s");
            Assert.InRange(run.LongestGap, TimeSpan.Zero, Handover);
        }
        finally
        {
            zombie.Resume();
        }
        var answer = await zombie.Client.TryPublishAsync(run.Topic, "from the zombie", "zombie-" + Guid.NewGuid().ToString("N"));
        output.WriteLine($"the woken node answered a publish {(int)answer.Status}: {answer.Body}");
        Assert.NotEqual(HttpStatusCode.Created, answer.Status);
        // It was downed while frozen: on waking it learns so and shuts down (the fixture starts it again afterwards).
        Assert.True(await zombie.ExitsWithinAsync(TimeSpan.FromSeconds(30)), "the downed node kept running");

        // Nothing it was asked after waking is in the log: a stream on a survivor sees exactly the acknowledged messages.
        await AssertDeliveredOnceAsync(survivors[1], run);
    }

    /// <summary>
    /// Publishes from every survivor, each message with its own idempotency key and again after a 503 or no answer, as a
    /// client would; <paramref name="fault"/> strikes after 20 acknowledgements, and publishing goes on until 40 more.
    /// </summary>
    private async Task<PublishRun> PublishThroughAsync(IReadOnlyList<ReplNodeProcess> survivors, Action fault)
    {
        var topic = "h-" + Guid.NewGuid().ToString("N")[..10];
        await survivors[0].Client.CreateTopicAsync(topic);
        foreach (var node in survivors)
        {
            var appeared = Stopwatch.StartNew();
            while ((await node.Client.GetAsync($"/topics/{topic}")).StatusCode != HttpStatusCode.OK)
            {
                Assert.True(appeared.Elapsed < TimeSpan.FromSeconds(10), $"topic {topic} never appeared on {node.Id}");
                await Task.Delay(20);
            }
        }

        var acked = new ConcurrentDictionary<string, long>();
        var ackTimes = new ConcurrentQueue<TimeSpan>();
        var clock = Stopwatch.StartNew();
        TimeSpan struck = TimeSpan.Zero;
        int afterFault = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var publishers = survivors.Select((node, p) => Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                // A message once sent is seen through to its 201, even after the stop: its outcome is unknown until then.
                string key = $"{topic}-{p}-{i}";
                var sent = Stopwatch.StartNew();
                while (true)
                {
                    Assert.True(sent.Elapsed < TimeSpan.FromSeconds(60), $"'{key}' was not acknowledged within 60 s");
                    var (status, id, _) = await node.Client.TryPublishAsync(topic, key, key);
                    if (status == HttpStatusCode.Created)
                    {
                        acked[key] = id;
                        ackTimes.Enqueue(clock.Elapsed);
                        if (struck > TimeSpan.Zero && Interlocked.Increment(ref afterFault) >= 40) await stop.CancelAsync();
                        break;
                    }
                    Assert.True(status is HttpStatusCode.ServiceUnavailable or 0, $"publish answered {(int)status}");
                    await Task.Delay(100);
                }
            }
        })).ToArray();

        while (acked.Count < 20) await Task.Delay(10);
        struck = clock.Elapsed;
        fault();
        await Task.WhenAll(publishers);
        Assert.True(afterFault >= 40, $"publishing did not resume: {afterFault} acknowledged after the fault");

        var times = ackTimes.Order().ToArray();
        var gap = times.Zip(times.Skip(1), (a, b) => b - a).Where((_, i) => times[i + 1] > struck).DefaultIfEmpty().Max();
        return new PublishRun(topic, acked.ToDictionary(), gap);
    }

    private static async Task AssertDeliveredOnceAsync(ReplNodeProcess node, PublishRun run)
    {
        await using var stream = await SseStream.OpenAsync(node.BaseAddress, $"/topics/{run.Topic}/sse", lastEventId: "0");
        var delivered = await stream.MessagesAsync(run.Acked.Count, TimeSpan.FromSeconds(30));
        // Every acknowledged message once, with its acknowledged id, in log order; nothing else.
        Assert.Equal(run.Acked.Values.Order(), delivered.Select(message => message.Id));
        Assert.Equal(run.Acked.Keys.Order(StringComparer.Ordinal), delivered.Select(message => message.Message.GetProperty("value").GetString()!).Order(StringComparer.Ordinal));
        Assert.False(await stream.HasMoreAsync(TimeSpan.FromSeconds(2)), "a message no one was told was committed");
    }

    private sealed record PublishRun(string Topic, Dictionary<string, long> Acked, TimeSpan LongestGap);
}
