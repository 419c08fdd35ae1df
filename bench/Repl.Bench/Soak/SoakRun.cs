using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Repl.Bench.Soak;

/// <summary>
/// The soak: <see cref="SoakOptions.Churners"/> subscribers coming and going for the whole run while publishers keep a
/// steady rate, the server's RSS, descriptors and threads sampled all along. Flat means: the median of the last third
/// of the samples is within the tolerance of the middle third's (the first third is warm-up: pools, JIT, caches).
/// </summary>
internal sealed class SoakRun(SoakOptions options)
{
    private const string Topic = "soak";

    // Below these, a difference is noise whatever the share: a few MB of heap, a pooled socket or two, a pool thread.
    private const long RssFloorKb = 8 * 1024;
    private const int FdFloor = 20;
    private const int ThreadFloor = 4;

    public async Task<int> RunAsync()
    {
        using var client = new HttpClient { BaseAddress = options.Url, Timeout = TimeSpan.FromSeconds(30) };
        using (var created = await client.PostAsJsonAsync("/topics", new { name = Topic }))
        {
            if (created.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict))
                throw new InvalidOperationException($"creating the topic answered {(int)created.StatusCode}");
        }
        var counters = new Counters();
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var samples = new List<ResourceSample>();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Csv))!);
        await using var csv = new StreamWriter(options.Csv);
        await csv.WriteLineAsync("seconds,rss_kb,fds,threads,connects,publishes,publish_failures");
        Sample(samples, csv, clock, counters);

        var tasks = new List<Task>();
        for (int i = 0; i < options.Publishers; i++) tasks.Add(Task.Run(() => PublishAsync(client, counters, stop.Token)));
        for (int i = 0; i < options.Churners; i++)
        {
            tasks.Add(Task.Run(() => new Churner(options.Url, Topic, () => Volatile.Read(ref counters.Head), counters).RunAsync(stop.Token)));
        }
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.SampleSeconds));
        while (clock.Elapsed.TotalSeconds < options.DurationSeconds && await timer.WaitForNextTickAsync())
        {
            if (!Sample(samples, csv, clock, counters))
            {
                Console.Error.WriteLine($"the server (pid {options.ServerPid}) is gone after {clock.Elapsed.TotalSeconds:0} s");
                await stop.CancelAsync();
                return 1;
            }
            if (samples.Count % 12 == 0)
            {
                var last = samples[^1];
                Console.Error.WriteLine($"   {last.Seconds,6:0} s  RSS {last.RssKb / 1024.0,7:0.0} MB  fds {last.Fds,5}  threads {last.Threads,4}  "
                    + $"connects {counters.Connects,8}  publishes {counters.Publishes,8}");
            }
        }
        await stop.CancelAsync();
        await Task.WhenAll(tasks);

        var verdicts = new[]
        {
            Verdict("RSS (MB)", samples.Select(s => s.RssKb / 1024.0).ToList(), RssFloorKb / 1024.0),
            Verdict("open fds", samples.Select(s => (double)s.Fds).ToList(), FdFloor),
            Verdict("threads", samples.Select(s => (double)s.Threads).ToList(), ThreadFloor),
        };
        if (options.Svg is not null) await File.WriteAllTextAsync(options.Svg, SoakPlot.Svg(samples, options, counters.Connects));
        Console.Error.WriteLine($"== soak: {clock.Elapsed.TotalSeconds:0} s, {options.Churners} churning subscribers, {counters.Connects} connects "
            + $"({counters.ConnectFailures} failed), {counters.Bytes / 1048576.0:0.0} MB read, {counters.Publishes} publishes ({counters.PublishFailures} failed)");
        Console.Error.WriteLine($"   flat = last third's median ≤ middle third's × {1 + options.Tolerance:0.00} (or + {RssFloorKb / 1024} MB / {FdFloor} fds / {ThreadFloor} threads, whichever is larger)");
        foreach (var v in verdicts) Console.Error.WriteLine($"   {v.Name,-9} first {v.First,8:0.0}  middle {v.Middle,8:0.0}  last {v.Last,8:0.0}  max {v.Max,8:0.0}  {(v.Flat ? "flat" : "GROWS")}");
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["scenario"] = "SOAK",
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds),
            ["churners"] = options.Churners,
            ["connects"] = counters.Connects,
            ["connectFailures"] = counters.ConnectFailures,
            ["publishes"] = counters.Publishes,
            ["publishFailures"] = counters.PublishFailures,
            ["tolerance"] = options.Tolerance,
            ["verdicts"] = verdicts,
            ["flat"] = verdicts.All(v => v.Flat),
        }));
        bool failed = counters.Publishes == 0 || counters.Connects == 0 || counters.PublishFailures > counters.Publishes / 100;
        if (failed) Console.Error.WriteLine("   the load did not run as asked (no publishes or connects, or over 1 % of publishes failed)");
        return verdicts.All(v => v.Flat) && !failed ? 0 : 1;
    }

    private bool Sample(List<ResourceSample> samples, StreamWriter csv, Stopwatch clock, Counters counters)
    {
        if (ResourceSample.Read(options.ServerPid, clock.Elapsed.TotalSeconds) is not { } sample) return false;
        samples.Add(sample);
        csv.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{sample.Seconds:0.0},{sample.RssKb},{sample.Fds},{sample.Threads},{counters.Connects},{counters.Publishes},{counters.PublishFailures}"));
        csv.Flush();
        return true;
    }

    private async Task PublishAsync(HttpClient client, Counters counters, CancellationToken stop)
    {
        // Paced: each publisher sends its share of the rate, on a timer.
        using var pace = new PeriodicTimer(TimeSpan.FromSeconds(options.Publishers / options.Rate));
        var padding = new string('s', 80);
        try
        {
            while (await pace.WaitForNextTickAsync(stop))
            {
                try
                {
                    using var content = new StringContent($"{{\"value\":\"{Environment.TickCount64}-{padding}\"}}", Encoding.UTF8, "application/json");
                    using var response = await client.PostAsync($"/topics/{Topic}", content, stop);
                    if (response.StatusCode != HttpStatusCode.Created)
                    {
                        Interlocked.Increment(ref counters.PublishFailures);
                        continue;
                    }
                    var data = (await response.Content.ReadFromJsonAsync<JsonElement>(stop)).GetProperty("data");
                    long id = long.Parse(data.GetProperty("id").GetString()!, CultureInfo.InvariantCulture);
                    Interlocked.Increment(ref counters.Publishes);
                    if (id > Volatile.Read(ref counters.Head)) Volatile.Write(ref counters.Head, id);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref counters.PublishFailures);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The first, middle and last third's medians; flat when last ≤ middle × (1 + tolerance), or middle + floor.</summary>
    private Trend Verdict(string name, List<double> values, double floor)
    {
        double Median(IEnumerable<double> part)
        {
            var sorted = part.Order().ToList();
            return sorted.Count == 0 ? 0 : sorted[sorted.Count / 2];
        }
        int third = values.Count / 3;
        double first = Median(values.Take(third)), middle = Median(values.Skip(third).Take(third)), last = Median(values.Skip(2 * third));
        bool flat = last <= Math.Max(middle * (1 + options.Tolerance), middle + floor);
        return new Trend(name, Math.Round(first, 1), Math.Round(middle, 1), Math.Round(last, 1), Math.Round(values.Max(), 1), flat);
    }

    internal sealed record Trend(string Name, double First, double Middle, double Last, double Max, bool Flat);

    /// <summary>What the load did, shared by its tasks (plain fields, <see cref="Interlocked"/>).</summary>
    internal sealed class Counters
    {
        public long Connects;
        public long ConnectFailures;
        public long Bytes;
        public long Publishes;
        public long PublishFailures;
        /// <summary>The highest id acknowledged so far: churners resume from below it.</summary>
        public long Head;
    }
}
