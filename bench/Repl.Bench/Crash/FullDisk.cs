using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Repl.Testing.Processes;

namespace Repl.Bench.Crash;

/// <summary>
/// The full-disk phase: the data directory on a small tmpfs, filled by publishing until the journal cannot grow.
/// Publishes must then be answered 503 with a JSON error that says the disk is full (never 500, the host never dies),
/// the host must start again on the full disk with every acknowledged message, and publishing must work again, without
/// a restart, once the tmpfs is made larger.
/// </summary>
internal sealed class FullDisk(CrashOptions options, CrashReport report)
{
    public const string Phase = "full disk";
    private const string Topic = "full";
    private const int SmallMb = 3;
    private const int LargeMb = 64;

    public async Task RunAsync()
    {
        string mount = Directory.CreateTempSubdirectory("repl-crash-disk.").FullName;
        if (await RunAsync("mount", "-t", "tmpfs", "-o", $"size={SmallMb}m", "tmpfs", mount) is { } refused)
        {
            report.Skipped.Add($"{Phase}: mount -t tmpfs refused ({refused.Trim()}); run as root, or where mounting a tmpfs is allowed");
            Directory.Delete(mount);
            return;
        }
        await using var host = CrashHost.Create(options, Path.Combine(mount, "data"), ReplNodeProcess.FreePort());
        var ledger = new Ledger();
        using var client = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        using var streams = new HttpClient { BaseAddress = host.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
        using var stop = new CancellationTokenSource();
        try
        {
            await host.RestartAsync(TimeSpan.FromSeconds(60));
            using (var created = await client.PostAsJsonAsync("/topics", new { name = Topic })) created.EnsureSuccessStatusCode();
            var subscriber = new CrashSubscriber(streams, Topic, "full-s0", ledger);
            var reading = await subscriber.StartAsync(stop.Token);

            // Fill: 4 publishers of 8 KB values until 20 answers have been 503.
            int unavailable = 0, n = 0, other = 0;
            string? cause = null;
            var filling = Stopwatch.StartNew();
            var fillers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                while (Volatile.Read(ref unavailable) < 20 && filling.Elapsed < TimeSpan.FromSeconds(90))
                {
                    string value = $"f{Interlocked.Increment(ref n)}-{new string('x', 8192)}";
                    var (status, id, body) = await PublishAsync(client, ledger, value, key: null);
                    if (status == HttpStatusCode.Created) continue;
                    if (status == HttpStatusCode.ServiceUnavailable && IsDiskFullError(body))
                    {
                        Interlocked.Increment(ref unavailable);
                        cause ??= body;
                        continue;
                    }
                    Interlocked.Increment(ref other);
                    ledger.Violations.Enqueue($"a publish on the full disk answered {(status == 0 ? "no status (connection failed)" : ((int)status).ToString())}: {body}");
                }
            })).ToList();
            await Task.WhenAll(fillers);
            report.Add(Phase, "tmpfs size", $"{SmallMb} MB");
            report.Add(Phase, "acknowledged before full", ledger.Acknowledged.Count);
            report.Add(Phase, "503 disk-full answers", unavailable);
            report.Add(Phase, "other answers (must be 0)", other);
            report.Add(Phase, "503 body", cause ?? "(none)");
            if (unavailable == 0) ledger.Violations.Enqueue($"the disk never filled in {filling.Elapsed.TotalSeconds:0} s ({n} publishes)");
            if (!host.IsRunning) ledger.Violations.Enqueue($"the host died on the full disk:\n{host.OutputTail}");
            using (var health = await client.GetAsync("/health")) report.Add(Phase, "GET /health while full", (int)health.StatusCode);

            // Restart on the full disk: the journal opens, and the acknowledged messages are all there. The node is up;
            // it is ready only if its readiness canary still fits on the disk, and when not, /readyz says why.
            host.Kill();
            try
            {
                await host.RestartAsync(waitReady: false);
                await host.WaitUpAsync(TimeSpan.FromSeconds(60));
            }
            catch (Exception error) when (error is InvalidOperationException or TimeoutException)
            {
                ledger.Violations.Enqueue($"the host does not start on the full disk: {error.Message}");
                return;
            }
            using (var readyz = await client.GetAsync("/readyz"))
            {
                string body = await readyz.Content.ReadAsStringAsync();
                report.Add(Phase, "restart on the full disk: /readyz", $"{(int)readyz.StatusCode} {body}");
                if (readyz.StatusCode != HttpStatusCode.OK && !(readyz.StatusCode == HttpStatusCode.ServiceUnavailable && IsDiskFullError(body)))
                    ledger.Violations.Enqueue($"/readyz on the full disk answered {(int)readyz.StatusCode}: {body}");
            }
            var whileFull = await JournalReadback.ReadAsync(client, Topic);
            int lostWhileFull = ledger.Acknowledged.Count(ack => !whileFull.Contains((ack.Value, ack.Key)));
            report.Add(Phase, "acknowledged missing after restart, still full", lostWhileFull);
            if (lostWhileFull > 0) ledger.Violations.Enqueue($"{lostWhileFull} acknowledged publishes are not in the journal after a restart on the full disk");
            var still = await PublishAsync(client, ledger, $"f{++n}-still-full", key: null);
            report.Add(Phase, "publish after restart, still full", $"{(int)still.Status} {still.Body}");
            if (still.Status != HttpStatusCode.ServiceUnavailable || !IsDiskFullError(still.Body))
                ledger.Violations.Enqueue($"a publish after the restart on the full disk answered {(int)still.Status}: {still.Body}");

            // Space returns: the same host publishes again, without a restart.
            if (await RunAsync("mount", "-o", $"remount,size={LargeMb}m", mount) is { } failed) throw new InvalidOperationException($"remount failed: {failed}");
            var recovering = Stopwatch.StartNew();
            string key = $"f{++n}-after-space";
            int attempts = 0;
            while (true)
            {
                attempts++;
                if ((await PublishAsync(client, ledger, key, key)).Status == HttpStatusCode.Created) break;
                if (recovering.Elapsed > TimeSpan.FromSeconds(30))
                {
                    ledger.Violations.Enqueue("publishes did not succeed again within 30 s of space returning");
                    break;
                }
                await Task.Delay(100);
            }
            report.Add(Phase, "first 201 after space returned", $"{recovering.Elapsed.TotalSeconds:0.00} s ({attempts} attempt(s), no restart)");
            using (var readyz = await client.GetAsync("/readyz")) report.Add(Phase, "/readyz after space returned", (int)readyz.StatusCode);
            int after = 0;
            for (int i = 0; i < 50; i++)
            {
                if ((await PublishAsync(client, ledger, $"f{++n}-after", key: null)).Status == HttpStatusCode.Created) after++;
            }
            report.Add(Phase, "publishes after recovery (of 50)", after);
            if (after != 50) ledger.Violations.Enqueue($"only {after} of 50 publishes succeeded after space returned");

            // And the journal holds what was acknowledged, once each, nothing else; the subscriber got all of it.
            host.Kill();
            await host.RestartAsync(TimeSpan.FromSeconds(60));
            var journal = await JournalReadback.ReadAsync(client, Topic);
            var drained = Stopwatch.StartNew();
            while (subscriber.LastId < journal[^1].Id && drained.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(50);
            stop.Cancel();
            await reading;
            var (lost, duplicated, phantom) = JournalReadback.Compare(journal, ledger);
            var (missing, deliveredPhantom) = JournalReadback.CompareDelivered(journal, subscriber, "full-s0", ledger);
            report.Add(Phase, "acknowledged (201)", ledger.Acknowledged.Count);
            report.Add(Phase, "committed (in the journal)", journal.Count);
            report.Add(Phase, "delivered", subscriber.Received.Count);
            report.Add(Phase, "lost / duplicated / phantom", $"{lost} / {duplicated} / {phantom}");
            report.Add(Phase, "missed / phantom delivered", $"{missing} / {deliveredPhantom}");
        }
        catch (Exception error) when (error is InvalidOperationException or TimeoutException or HttpRequestException)
        {
            ledger.Violations.Enqueue(error.Message);
        }
        finally
        {
            await stop.CancelAsync();
            host.Kill();
            await RunAsync("umount", "-l", mount);
            Directory.Delete(mount, recursive: true);
            foreach (var violation in ledger.Violations) report.Violation(Phase, violation);
        }
    }

    /// <summary>A 503 whose JSON error says what is wrong: the disk (or the database) is full.</summary>
    internal static bool IsDiskFullError(string body)
    {
        if (!CrashPublisher.IsJsonError(body)) return false;
        string cause = JsonDocument.Parse(body).RootElement.GetProperty("cause").GetString() ?? "";
        return cause.Contains("full", StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<(HttpStatusCode Status, long Id, string Body)> PublishAsync(HttpClient client, Ledger ledger, string value, string? key)
    {
        ledger.Sent.TryAdd(value, 0);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/topics/{Topic}")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { value }), Encoding.UTF8, "application/json"),
        };
        if (key is not null) request.Headers.Add("Idempotency-Key", key);
        try
        {
            using var response = await client.SendAsync(request);
            string body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode != HttpStatusCode.Created) return (response.StatusCode, 0, body);
            long id = long.Parse(JsonDocument.Parse(body).RootElement.GetProperty("data").GetProperty("id").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            ledger.Acknowledge(value, id);
            return (response.StatusCode, id, body);
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException or IOException)
        {
            return (0, 0, error.Message);
        }
    }

    /// <summary>Runs a command; null when it succeeded, else what it wrote to stderr.</summary>
    private static async Task<string?> RunAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(start)!;
            string error = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return process.ExitCode == 0 ? null : error;
        }
        catch (System.ComponentModel.Win32Exception error)
        {
            return error.Message;
        }
    }
}
