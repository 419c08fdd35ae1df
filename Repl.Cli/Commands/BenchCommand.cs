using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Repl.Cli.Api;
using Spectre.Console;

namespace Repl.Cli.Commands;

/// <summary><c>repl bench</c>: a small publish → SSE round trip on a throwaway topic, for a quick look at a node.</summary>
/// <remarks>
/// Each message carries the publisher's <see cref="Stopwatch"/> timestamp; every subscriber measures when it arrives,
/// so latency is publish call to SSE delivery, both in this process. For real load use <c>bench/</c> (Repl.Bench):
/// this client shares the machine and its CPU with the node when run locally.
/// </remarks>
internal static class BenchCommand
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    public static Command Create(ReplCli cli)
    {
        var messages = new Option<int>("--messages", "-m") { Description = "Messages to publish", DefaultValueFactory = _ => 10_000 };
        var subscribers = new Option<int>("--subscribers", "-s") { Description = "SSE subscribers receiving every message", DefaultValueFactory = _ => 4 };
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Publishes in flight at once", DefaultValueFactory = _ => 32 };
        var command = new Command("bench", "A publish/subscribe round-trip benchmark: msgs/s and latency percentiles") { messages, subscribers, concurrency };
        command.SetAction((parsed, cancellation) => cli.RunAsync(parsed, cancellation, context =>
            RunAsync(context, parsed.GetValue(messages), parsed.GetValue(subscribers), parsed.GetValue(concurrency))));
        return command;
    }

    private static async Task<int> RunAsync(CommandContext context, int messages, int subscribers, int concurrency)
    {
        // Checked here rather than in a command validator, which throws on values that did not parse.
        if (messages < 1 || subscribers < 1 || concurrency < 1) throw new UsageException("--messages, --subscribers and --concurrency must be at least 1");
        var api = context.Api;
        string topic = "bench-" + Guid.NewGuid().ToString("N")[..8];
        await api.PostJsonAsync("topics", $"{{\"name\":\"{topic}\"}}", context.Cancellation).ConfigureAwait(false);
        try
        {
            var run = new Run(messages, subscribers);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation);
            var readers = new Task[subscribers];
            for (int s = 0; s < subscribers; s++)
            {
                readers[s] = SubscribeAsync(api, topic, run, s, stop.Token);
            }
            await Task.WhenAll(run.Connected.Select(connected => connected.Task)).WaitAsync(TimeSpan.FromSeconds(10), context.Cancellation).ConfigureAwait(false);

            var clock = Stopwatch.StartNew();
            var publishing = PublishAsync(api, topic, run, concurrency, context.Cancellation);
            if (!context.Output.Json && context.Output.Console.Profile.Capabilities.Interactive)
            {
                await context.Output.Console.Progress().AutoClear(false).Columns(
                        new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .StartAsync(async progress =>
                    {
                        var published = progress.AddTask("published", maxValue: messages);
                        var delivered = progress.AddTask("delivered", maxValue: (double)messages * subscribers);
                        while (!run.AllDelivered.Task.IsCompleted && !publishing.IsFaulted)
                        {
                            published.Value = Volatile.Read(ref run.Published);
                            delivered.Value = Interlocked.Read(ref run.Delivered);
                            await Task.WhenAny(run.AllDelivered.Task, Task.Delay(100, context.Cancellation)).ConfigureAwait(false);
                            context.Cancellation.ThrowIfCancellationRequested();
                        }
                        published.Value = Volatile.Read(ref run.Published);
                        delivered.Value = Interlocked.Read(ref run.Delivered);
                    }).ConfigureAwait(false);
            }
            await publishing.ConfigureAwait(false);
            double publishSeconds = clock.Elapsed.TotalSeconds;
            bool complete = await run.AllDelivered.Task.WaitAsync(DrainTimeout, context.Cancellation).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default).ConfigureAwait(false);
            context.Cancellation.ThrowIfCancellationRequested();
            double totalSeconds = clock.Elapsed.TotalSeconds;
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(readers).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);

            var report = Report(run, topic, messages, subscribers, publishSeconds, totalSeconds);
            Print(context.Output, report);
            if (!complete)
            {
                context.Output.Error("incomplete", $"{report.Delivered} of {(long)messages * subscribers} deliveries arrived within {DrainTimeout.TotalSeconds:0} s");
                return ExitCodes.ServerError;
            }
            return ExitCodes.Ok;
        }
        finally
        {
            try
            {
                await api.DeleteAsync(ReplApi.TopicPath(topic), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is ServerErrorException or NodeUnreachableException)
            {
            }
        }
    }

    private static async Task PublishAsync(ReplApi api, string topic, Run run, int concurrency, CancellationToken cancellationToken)
    {
        string path = ReplApi.TopicPath(topic);
        await Parallel.ForAsync(0, run.Messages, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (_, token) =>
        {
            long sent = Stopwatch.GetTimestamp();
            await api.PostJsonAsync(path, $"{{\"value\":\"{sent.ToString(CultureInfo.InvariantCulture)}\"}}", token).ConfigureAwait(false);
            Interlocked.Increment(ref run.Published);
        }).ConfigureAwait(false);
    }

    private static async Task SubscribeAsync(ReplApi api, string topic, Run run, int index, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await api.OpenStreamAsync(ReplApi.TopicPath(topic, "/sse"), null, cancellationToken).ConfigureAwait(false);
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var latencies = run.Latencies[index];
            int received = 0;
            await foreach (var sse in SseParser.Create(stream).EnumerateAsync(cancellationToken).ConfigureAwait(false))
            {
                if (sse.EventType == "connected")
                {
                    run.Connected[index].TrySetResult();
                    continue;
                }
                if (sse.EventType != "message" || received == latencies.Length) continue;
                long now = Stopwatch.GetTimestamp();
                using var document = JsonDocument.Parse(sse.Data);
                if (long.TryParse(document.RootElement.GetProperty("value").GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out long sent))
                {
                    latencies[received++] = Stopwatch.GetElapsedTime(sent, now).TotalMilliseconds;
                    if (Interlocked.Increment(ref run.Delivered) == (long)run.Messages * run.Connected.Length) run.AllDelivered.TrySetResult();
                }
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or HttpRequestException or NodeUnreachableException or ServerErrorException)
        {
            run.Connected[index].TrySetException(exception);
        }
    }

    private static BenchReport Report(Run run, string topic, int messages, int subscribers, double publishSeconds, double totalSeconds)
    {
        var all = run.Latencies.SelectMany(latencies => latencies).Where(ms => ms > 0).ToArray();
        Array.Sort(all);
        double Percentile(double p) => all.Length == 0 ? 0 : all[Math.Clamp((int)Math.Ceiling(p * all.Length) - 1, 0, all.Length - 1)];
        long delivered = Interlocked.Read(ref run.Delivered);
        return new BenchReport(topic, messages, subscribers, delivered, Math.Round(publishSeconds, 3), Math.Round(totalSeconds, 3),
            Math.Round(messages / publishSeconds), Math.Round(delivered / totalSeconds),
            Math.Round(Percentile(0.50), 2), Math.Round(Percentile(0.90), 2), Math.Round(Percentile(0.99), 2), Math.Round(all.Length == 0 ? 0 : all[^1], 2));
    }

    private static void Print(CliOutput output, BenchReport report)
    {
        if (output.Json)
        {
            output.WriteJson(report, CliJsonContext.Default.BenchReport);
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).AddColumn("measure").AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("messages × subscribers", $"{report.Messages:N0} × {report.Subscribers}");
        table.AddRow("delivered", $"{report.Delivered:N0}");
        table.AddRow("published msgs/s", $"{report.PublishedPerSecond:N0}");
        table.AddRow("delivered msgs/s", $"{report.DeliveredPerSecond:N0}");
        table.AddRow("latency p50", $"{report.P50Ms:N2} ms");
        table.AddRow("latency p90", $"{report.P90Ms:N2} ms");
        table.AddRow("latency p99", $"{report.P99Ms:N2} ms");
        table.AddRow("latency max", $"{report.MaxMs:N2} ms");
        output.Console.Write(table);
    }

    /// <summary>The shared state of one run; fields are updated with <see cref="Interlocked"/>.</summary>
    private sealed class Run(int messages, int subscribers)
    {
        public readonly int Messages = messages;
        public readonly double[][] Latencies = [.. Enumerable.Range(0, subscribers).Select(_ => new double[messages])];
        public readonly TaskCompletionSource[] Connected = [.. Enumerable.Range(0, subscribers).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];
        public readonly TaskCompletionSource AllDelivered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Published;
        public long Delivered;
    }
}
