using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Repl.Testing.Processes;

namespace Repl.Bench.Crash;

/// <summary>
/// The kill -9 phase: the host is killed and started again <see cref="CrashOptions.Cycles"/> times on one data directory
/// while publishers and resuming subscribers keep going; then the journal, read back, is compared with every
/// acknowledgement and every delivery. With <paramref name="sigterm"/>, the SIGTERM phase instead: the host is stopped
/// as a supervisor stops it (<see cref="CrashOptions.SigtermCycles"/> times), each stop must exit 0 and end every open
/// stream with <c>event: unavailable</c>, and <c>/metrics</c> is scraped while it runs; the first cycle also starts a
/// second host on the same port, which must exit 4 with one line.
/// </summary>
internal sealed class KillCycles(CrashOptions options, CrashReport report, bool sigterm = false)
{
    public const string Phase = "kill-9 cycles";
    public const string SigtermPhase = "SIGTERM cycles";
    private const string Topic = "crash";

    public async Task RunAsync(string dataDir)
    {
        string phase = sigterm ? SigtermPhase : Phase;
        int cycles = sigterm ? options.SigtermCycles : options.Cycles;
        var exitCodes = new Dictionary<int, int>();
        var exits = new List<double>();
        int scrapes = 0;
        await using var host = CrashHost.Create(options, dataDir, ReplNodeProcess.FreePort());
        var ledger = new Ledger();
        using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5) })
        {
            BaseAddress = host.BaseAddress,
            Timeout = TimeSpan.FromSeconds(15),
        };
        using var streams = new HttpClient { BaseAddress = host.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        var restarts = new List<double>();
        var acksPerCycle = new List<int>();
        try
        {
            await host.RestartAsync(TimeSpan.FromSeconds(60));
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

            if (sigterm) await SecondHostOnThePortAsync(host, phase);
            int acked = 0;
            for (int cycle = 1; cycle <= cycles; cycle++)
            {
                double up = options.UpMinSeconds + Random.Shared.NextDouble() * (options.UpMaxSeconds - options.UpMinSeconds);
                if (sigterm)
                {
                    using var scrape = await client.GetAsync("/metrics");
                    if (scrape.IsSuccessStatusCode) scrapes++;
                    else report.Violation(phase, $"cycle {cycle}: /metrics answered {(int)scrape.StatusCode}");
                }
                await Task.Delay(TimeSpan.FromSeconds(up));
                if (publishing.FirstOrDefault(p => p.IsCompleted) is { } ended) await ended; // a publisher that threw: surface it
                string stopped = "killed";
                if (sigterm)
                {
                    var exiting = Stopwatch.StartNew();
                    string tail = host.OutputTail;
                    host.Terminate();
                    int? code = await host.ExitCodeWithinAsync(TimeSpan.FromSeconds(60));
                    exits.Add(exiting.Elapsed.TotalSeconds);
                    exitCodes[code ?? -1] = exitCodes.GetValueOrDefault(code ?? -1) + 1;
                    stopped = code is null ? "still running 60 s after SIGTERM, killed" : $"exit {code} {exits[^1]:0.00} s after SIGTERM";
                    if (code != 0) report.Violation(phase, $"cycle {cycle}: {stopped}{(code == 134 ? " (SIGABRT)" : "")}:\n{host.OutputTail}");
                }
                else
                {
                    host.Kill();
                }
                acksPerCycle.Add(ledger.Acknowledged.Count - acked);
                acked = ledger.Acknowledged.Count;
                var restart = Stopwatch.StartNew();
                await host.RestartAsync(TimeSpan.FromSeconds(60));
                restarts.Add(restart.Elapsed.TotalSeconds);
                if (!options.JsonOnly) Console.Error.WriteLine($"   cycle {cycle}/{cycles}: {acksPerCycle[^1]} acknowledged, {stopped}, up again in {restarts[^1]:0.00} s");
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
            report.Add(phase, sigterm ? "cycles (SIGTERM + restart)" : "cycles (kill -9 + restart)", cycles);
            if (sigterm)
            {
                report.Add(phase, "exit codes (code × times)", string.Join(", ", exitCodes.OrderBy(c => c.Key).Select(c => $"{c.Key} × {c.Value}")));
                report.Add(phase, "SIGTERM to exit s (median/max)", exits.Count == 0 ? "-" : $"{Median(exits):0.00} / {exits.Max():0.00}");
                report.Add(phase, "/metrics scrapes answered 200", scrapes);
                report.Add(phase, "streams ended with unavailable", subscribers.Sum(s => s.EndedUnavailable));
                report.Add(phase, "streams ended without it", subscribers.Sum(s => s.EndedOtherwise));
                // Each subscriber's last stream is ended by the run, not by a stop.
                if (subscribers.Sum(s => s.EndedOtherwise) > 0) report.Violation(phase, "a stream ended without event: unavailable when the host stopped");
            }
            report.Add(phase, "publishers (keyed + unkeyed)", $"{(options.Publishers + 1) / 2} + {options.Publishers / 2}");
            report.Add(phase, "subscribers", options.Subscribers);
            report.Add(phase, "publish requests", ledger.Requests);
            report.Add(phase, "failed requests (killed, 503)", ledger.Failed);
            report.Add(phase, "acknowledged (201)", ledger.Acknowledged.Count);
            report.Add(phase, "acknowledged per cycle min/max", acksPerCycle.Count == 0 ? "-" : $"{acksPerCycle.Min()} / {acksPerCycle.Max()}");
            report.Add(phase, "keyed publishes retried to a 201", ledger.Retried);
            report.Add(phase, "  of which committed by a cut request", ledger.RetriedCommittedBefore);
            report.Add(phase, "unkeyed, outcome unknown to client", ledger.Unknown);
            report.Add(phase, "committed (in the journal)", journal.Count);
            report.Add(phase, "committed, never acknowledged", journal.Count - ledger.Acknowledged.Count);
            report.Add(phase, "delivered (all subscribers)", delivered);
            report.Add(phase, "subscriber reconnects", subscribers.Sum(s => s.Reconnects));
            report.Add(phase, "restart to ready s (median/max)", restarts.Count == 0 ? "-" : $"{Median(restarts):0.00} / {restarts.Max():0.00}");
            report.Add(phase, "acknowledged lost", lost);
            report.Add(phase, "duplicated in the journal", duplicated);
            report.Add(phase, "phantom in the journal", phantom);
            report.Add(phase, "missed by a subscriber", missing);
            report.Add(phase, "phantom delivered", deliveredPhantom);
            if (ledger.Acknowledged.Count == 0) report.Violation(phase, "nothing was acknowledged: the run tested nothing");
        }
        catch (Exception error) when (error is InvalidOperationException or TimeoutException or HttpRequestException)
        {
            report.Violation(phase, error.Message);
        }
        finally
        {
            host.Kill();
        }
        foreach (var violation in ledger.Violations) report.Violation(phase, violation);
    }

    /// <summary>A second host on the running host's port must exit 4 with one line (not abort: 134), and the first must go on.</summary>
    private async Task SecondHostOnThePortAsync(ReplNodeProcess host, string phase)
    {
        string dataDir = Directory.CreateTempSubdirectory("repl-crash-second.").FullName;
        try
        {
            await using var second = CrashHost.Create(options, dataDir, host.BaseAddress.Port);
            var started = Stopwatch.StartNew();
            await second.RestartAsync(waitReady: false);
            int? code = await second.ExitCodeWithinAsync(TimeSpan.FromSeconds(90));
            string said = second.ErrorLines.LastOrDefault() ?? "";
            report.Add(phase, "second host on the port: exit", code is null ? "still running after 90 s" : $"{code} after {started.Elapsed.TotalSeconds:0.0} s");
            report.Add(phase, "second host on the port: stderr", $"{second.ErrorLines.Count} line(s), last: {said}");
            if (code != 4 || second.ErrorLines.Count != 1) report.Violation(phase, $"a second host on the port exited {code?.ToString() ?? "never"}, stderr:\n{string.Join('\n', second.ErrorLines)}");
            using var probe = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
            using var ready = await probe.GetAsync("/readyz");
            if (!ready.IsSuccessStatusCode) report.Violation(phase, $"the first host answered /readyz {(int)ready.StatusCode} after the second failed to bind");
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    internal static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
