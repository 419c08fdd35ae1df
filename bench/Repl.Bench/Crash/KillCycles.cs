using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;

namespace Repl.Bench.Crash;

/// <summary>
/// The kill -9 phase: the host is killed and started again <see cref="CrashOptions.Cycles"/> times on one data directory
/// while publishers and resuming subscribers keep going; then the journal, read back, is compared with every
/// acknowledgement and every delivery.
/// </summary>
internal sealed class KillCycles(CrashOptions options, CrashReport report)
{
    public const string Phase = "kill-9 cycles";
    private const string Topic = "crash";

    public async Task RunAsync(string dataDir)
    {
        var host = new HostProcess(options.Host, dataDir, HostProcess.FreePort(), options.ServerCpu);
        var ledger = new Ledger();
        using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5) })
        {
            BaseAddress = host.Url,
            Timeout = TimeSpan.FromSeconds(15),
        };
        using var streams = new HttpClient { BaseAddress = host.Url, Timeout = Timeout.InfiniteTimeSpan };
        var restarts = new List<double>();
        var acksPerCycle = new List<int>();
        try
        {
            await host.StartAsync(TimeSpan.FromSeconds(60));
            using (var created = await client.PostAsJsonAsync("/topics", new { name = Topic }))
            {
                if (created.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
                    throw new InvalidOperationException($"creating the topic answered {(int)created.StatusCode}");
            }
            using var stopSubscribers = new CancellationTokenSource();
            using var stopPublishers = new CancellationTokenSource();
            var subscribers = Enumerable.Range(0, options.Subscribers).Select(i => new CrashSubscriber(streams, Topic, $"s{i}", ledger)).ToList();
            var reading = new List<Task>();
            foreach (var subscriber in subscribers) reading.Add(await subscriber.StartAsync(stopSubscribers.Token));
            var publishing = Enumerable.Range(0, options.Publishers)
                .Select(i => Task.Run(() => new CrashPublisher(client, Topic, $"p{i}", keyed: i % 2 == 0, ledger).RunAsync(stopPublishers.Token, TimeSpan.FromSeconds(30))))
                .ToList();

            int acked = 0;
            for (int cycle = 1; cycle <= options.Cycles; cycle++)
            {
                double up = options.UpMinSeconds + Random.Shared.NextDouble() * (options.UpMaxSeconds - options.UpMinSeconds);
                await Task.Delay(TimeSpan.FromSeconds(up));
                if (publishing.FirstOrDefault(p => p.IsCompleted) is { } ended) await ended; // a publisher that threw: surface it
                host.Kill();
                acksPerCycle.Add(ledger.Acknowledged.Count - acked);
                acked = ledger.Acknowledged.Count;
                var restart = Stopwatch.StartNew();
                await host.StartAsync(TimeSpan.FromSeconds(60));
                restarts.Add(restart.Elapsed.TotalSeconds);
                if (!options.JsonOnly) Console.Error.WriteLine($"   cycle {cycle}/{options.Cycles}: {acksPerCycle[^1]} acknowledged, up again in {restarts[^1]:0.00} s");
            }
            // A last stretch on the last incarnation, then the keyed publishers finish the value each holds.
            await Task.Delay(TimeSpan.FromSeconds(options.UpMinSeconds));
            stopPublishers.Cancel();
            await Task.WhenAll(publishing);

            var journal = await JournalReadback.ReadAsync(client, Topic);
            long head = journal.Count == 0 ? 0 : journal[^1].Id;
            var drained = Stopwatch.StartNew();
            while (subscribers.Any(s => s.LastId < head) && drained.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50);
            stopSubscribers.Cancel();
            await Task.WhenAll(reading);

            var (lost, duplicated, phantom) = JournalReadback.Compare(journal, ledger);
            int missing = 0, deliveredPhantom = 0;
            long delivered = 0;
            for (int i = 0; i < subscribers.Count; i++)
            {
                var (m, p) = JournalReadback.CompareDelivered(journal, subscribers[i], $"s{i}", ledger);
                missing += m;
                deliveredPhantom += p;
                delivered += subscribers[i].Received.Count;
            }
            report.Add(Phase, "cycles (kill -9 + restart)", options.Cycles);
            report.Add(Phase, "publishers (keyed + unkeyed)", $"{(options.Publishers + 1) / 2} + {options.Publishers / 2}");
            report.Add(Phase, "subscribers", options.Subscribers);
            report.Add(Phase, "publish requests", ledger.Requests);
            report.Add(Phase, "failed requests (killed, 503)", ledger.Failed);
            report.Add(Phase, "acknowledged (201)", ledger.Acknowledged.Count);
            report.Add(Phase, "acknowledged per cycle min/max", acksPerCycle.Count == 0 ? "-" : $"{acksPerCycle.Min()} / {acksPerCycle.Max()}");
            report.Add(Phase, "keyed publishes retried to a 201", ledger.Retried);
            report.Add(Phase, "  of which committed by a cut request", ledger.RetriedCommittedBefore);
            report.Add(Phase, "unkeyed, outcome unknown to client", ledger.Unknown);
            report.Add(Phase, "committed (in the journal)", journal.Count);
            report.Add(Phase, "committed, never acknowledged", journal.Count - ledger.Acknowledged.Count);
            report.Add(Phase, "delivered (all subscribers)", delivered);
            report.Add(Phase, "subscriber reconnects", subscribers.Sum(s => s.Reconnects));
            report.Add(Phase, "restart to ready s (median/max)", restarts.Count == 0 ? "-" : $"{Median(restarts):0.00} / {restarts.Max():0.00}");
            report.Add(Phase, "acknowledged lost", lost);
            report.Add(Phase, "duplicated in the journal", duplicated);
            report.Add(Phase, "phantom in the journal", phantom);
            report.Add(Phase, "missed by a subscriber", missing);
            report.Add(Phase, "phantom delivered", deliveredPhantom);
            if (ledger.Acknowledged.Count == 0) report.Violation(Phase, "nothing was acknowledged: the run tested nothing");
        }
        catch (Exception error) when (error is InvalidOperationException or TimeoutException or HttpRequestException)
        {
            report.Violation(Phase, error.Message);
        }
        finally
        {
            host.Kill();
        }
        foreach (var violation in ledger.Violations) report.Violation(Phase, violation);
    }

    internal static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
