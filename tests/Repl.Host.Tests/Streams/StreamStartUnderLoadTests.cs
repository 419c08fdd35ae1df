using System.Collections.Concurrent;
using System.Diagnostics;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Streams;

/// <summary>
/// Open means subscribed, under load: streams open by the hundred while publishes flow, and each must get every message
/// whose publish was sent after its response head arrived.
/// </summary>
/// <remarks>The bench's S4 runs the same check at 9,000 streams (bench/README.md, "lost in warm-up").</remarks>
public sealed class StreamStartUnderLoadTests
{
    private const int Streams = 600;
    private const int OpenConcurrency = 40;
    private const int Publishers = 4;

    [Fact]
    public async Task StreamsOpeningWhilePublishesFlow_EachGetsEveryMessageSentAfterItsHead()
    {
        await using var server = await ReplServer.StartAsync();
        await server.Client.CreateTopicAsync("load");
        // Every publish: when it was first sent, and the position it got. On a loaded machine one may wait past its
        // deadline (503 "log unavailable") or lose its answer (503 "outcome unknown"): it is retried with its
        // Idempotency-Key, as the error says, and committed once. Streams whose head came before its first send must get it.
        var sent = new ConcurrentBag<(long SentAt, long Id)>();
        using var stop = new CancellationTokenSource();
        var publishing = Enumerable.Range(0, Publishers).Select(p => Task.Run(async () =>
        {
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                long at = Stopwatch.GetTimestamp();
                sent.Add((at, await server.Client.PublishRetryingAsync("load", $"p{p}-{i}", idempotencyKey: $"p{p}-{i}", attempts: 6)));
                await Task.Delay(15);
            }
        })).ToArray();

        var streams = new (SseStream Stream, long HeadAt)[Streams];
        using var gate = new SemaphoreSlim(OpenConcurrency);
        await Task.WhenAll(Enumerable.Range(0, Streams).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/load/sse");
                // Taken once the head is here (never before it): a publish sent later must reach the stream.
                streams[i] = (stream, Stopwatch.GetTimestamp());
            }
            finally
            {
                gate.Release();
            }
        }));
        await Task.Delay(300);
        await stop.CancelAsync();
        await Task.WhenAll(publishing);

        long last = sent.Max(p => p.Id);
        var failures = new ConcurrentBag<string>();
        await Task.WhenAll(streams.Select(async (s, index) =>
        {
            await using var stream = s.Stream;
            var received = new HashSet<long>();
            long previous = 0;
            while (previous < last)
            {
                var (id, _) = (await stream.MessagesAsync(1, TimeSpan.FromSeconds(30)))[0];
                if (id <= previous) failures.Add($"stream {index}: {id} after {previous}");
                received.Add(id);
                previous = id;
            }
            var missing = sent.Where(p => p.SentAt > s.HeadAt && !received.Contains(p.Id)).Select(p => p.Id).Order().ToList();
            if (missing.Count > 0) failures.Add($"stream {index}: missed {missing.Count} sent after its head, first {missing[0]} (it started at {(await stream.Connected).Data})");
        }));
        Assert.True(failures.IsEmpty, $"{failures.Count} of {Streams} streams failed: {string.Join("; ", failures.Take(5))}");
    }
}
