using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Repl.Bench;

/// <summary>
/// <c>Repl.Bench report DIR</c>: reads every run's JSON line from DIR, takes the median of each figure per
/// (server, scenario), checks Repl's medians against the issue's targets, prints a table and writes one JSON file.
/// With <c>--vs LABEL</c> (an A/B, <c>bench/run.sh --vs REV</c>) it also prints, per scenario, each figure of
/// <c>repl</c> (or of <c>--this LABEL</c>: <c>bench/run.sh --hooks</c> passes <c>repl+hooks</c>) over the same figure
/// of LABEL, run pair by run pair (run i of one server beside run i of the other).
/// </summary>
internal static class ReportCommand
{
    /// <summary>The figures compared across runs: name in the median object, and where it sits in a run's JSON.</summary>
    private static readonly (string Name, string[] Path)[] Figures =
    [
        ("publishesPerSec", ["publishesPerSec"]),
        ("deliveriesPerSec", ["deliveriesPerSec"]),
        ("p50Ms", ["latencyMs", "p50"]),
        ("p99Ms", ["latencyMs", "p99"]),
        ("p999Ms", ["latencyMs", "p999"]),
        ("maxMs", ["latencyMs", "max"]),
        ("ackP99Ms", ["ackLatencyMs", "p99"]),
        ("lost", ["lost"]),
        ("warmupLost", ["warmupLost"]),
        ("duplicated", ["duplicated"]),
        ("outOfOrder", ["outOfOrder"]),
        ("unacknowledged", ["unacknowledged"]),
        ("abandoned", ["abandoned"]),
        ("handoverS", ["handover", "longestWithoutAckS"]),
        ("connectS", ["connect", "totalS"]),
        ("connectFailed", ["connect", "failed"]),
        ("opensPerSec", ["connect", "opensPerSec"]),
        ("cpuUsPerOpen", ["connect", "serverCpuUsPerOpen"]),
        ("cpuUsPerPublish", ["server", "cpuUsPerPublish"]),
        ("serverCpuPct", ["server", "cpuPct"]),
        ("othersOnCorePct", ["server", "othersOnCorePct"]),
        ("etcdCpuPct", ["server", "etcd", "cpuPct"]),
        ("clientCpuS", ["clientCpuS"]),
        ("rssConnectedKb", ["server", "rssConnectedKb"]),
        ("rssPerConnectionBytes", ["server", "rssPerConnectionBytes"]),
        ("rssGrowthKb", ["server", "rssGrowthKb"]),
    ];

    public static int Run(string[] args)
    {
        if (args.Length < 2) throw new ArgumentException("report needs a directory of run JSON files");
        string dir = args[1];
        string? outFile = null;
        string? vs = null;
        string mine = "repl";
        bool quick = false;
        for (int i = 2; i < args.Length; i++)
        {
            if (args[i] == "--out" && i + 1 < args.Length) outFile = args[++i];
            else if (args[i] == "--vs" && i + 1 < args.Length) vs = args[++i];
            else if (args[i] == "--this" && i + 1 < args.Length) mine = args[++i];
            else if (args[i] == "--quick") quick = true;
            else throw new ArgumentException($"unknown report option {args[i]}");
        }

        var runs = new List<JsonObject>();
        // Run 10 after run 9: shorter names first.
        foreach (var file in Directory.EnumerateFiles(dir, "*.json").OrderBy(f => f.Length).ThenBy(f => f, StringComparer.Ordinal))
        {
            var line = File.ReadLines(file).LastOrDefault(l => l.StartsWith('{'));
            if (line is not null && JsonNode.Parse(line) is JsonObject run) runs.Add(run);
        }

        var medians = new JsonArray();
        var rows = new List<(string Scenario, string Label, JsonObject Median)>();
        foreach (var group in runs.GroupBy(r => (Scenario: Str(r, "scenario"), Label: Str(r, "label"))).OrderBy(g => g.Key.Scenario, StringComparer.Ordinal).ThenBy(g => g.Key.Label != "repl"))
        {
            var median = new JsonObject
            {
                ["scenario"] = group.Key.Scenario,
                ["label"] = group.Key.Label,
                ["runs"] = group.Count(),
                ["subscribers"] = group.First()["subscribers"]?.DeepClone(),
                ["nonReaders"] = group.First()["nonReaders"]?.DeepClone(),
                ["publishers"] = group.First()["publishers"]?.DeepClone(),
                ["rate"] = group.First()["rate"]?.DeepClone(),
                ["durationS"] = group.First()["durationS"]?.DeepClone(),
            };
            foreach (var (name, path) in Figures)
            {
                var values = group.Select(r => Get(r, path)).OfType<double>().Order().ToArray();
                if (values.Length > 0) median[name] = Math.Round(Median(values), 3);
            }
            var target = ScenarioTarget.All.FirstOrDefault(t => t.Scenario == group.Key.Scenario);
            if (target is not null && group.Key.Label == "repl" && !quick)
            {
                median["target"] = target.Goal;
                median["holds"] = target.Holds(median);
            }
            medians.Add(median);
            rows.Add((group.Key.Scenario, group.Key.Label, median));
        }

        Console.WriteLine(Table(rows, quick));
        if (vs is not null) Console.WriteLine(Ratios(runs, mine, vs));
        if (outFile is not null)
        {
            var report = new JsonObject
            {
                ["generatedAt"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                ["machine"] = new JsonObject
                {
                    ["processors"] = Environment.ProcessorCount,
                    ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
                    ["runtime"] = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
                },
                ["quick"] = quick,
                ["medians"] = medians,
                ["runs"] = new JsonArray([.. runs.Select(r => (JsonNode)r.DeepClone())]),
            };
            File.WriteAllText(outFile, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            Console.WriteLine($"wrote {outFile}");
        }
        return 0;
    }

    private static string Table(List<(string Scenario, string Label, JsonObject Median)> rows, bool quick)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("| scenario | server | runs | subs | publishes/s | deliveries/s | p50 ms | p99 ms | p99.9 ms | max ms | lost/dup/ooo | no ack s | server CPU % | etcd CPU % | others on its core % | RSS/conn KB | RSS growth MB | target | holds |");
        sb.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
        foreach (var (scenario, label, m) in rows)
        {
            string F(string name, string format, double scale = 1) => m[name] is { } v ? (v.GetValue<double>() / scale).ToString(format, c) : "–";
            var target = ScenarioTarget.All.FirstOrDefault(t => t.Scenario == scenario);
            string holds = m["holds"] is { } h ? (h.GetValue<bool>() ? "yes" : "**no**") : "";
            string subs = m["subscribers"]?.ToString() + (m["nonReaders"]?.GetValue<int>() is > 0 and var n ? $"+{n}" : "");
            sb.Append(c, $"| {scenario} | {label} | {m["runs"]} | {subs} | {F("publishesPerSec", "N0")} | {F("deliveriesPerSec", "N0")} | {F("p50Ms", "N2")} | {F("p99Ms", "N2")} | {F("p999Ms", "N2")} | {F("maxMs", "N1")} | {F("lost", "N0")}/{Duplicated(m)}/{F("outOfOrder", "N0")}{(m["connectFailed"]?.GetValue<double>() is > 0 and var failed ? $" ({failed:N0} failed to connect)" : "")} | {F("handoverS", "N2")} | {F("serverCpuPct", "N0")} | {F("etcdCpuPct", "N0")} | {F("othersOnCorePct", "N0")} | {F("rssPerConnectionBytes", "N1", 1024)} | {F("rssGrowthKb", "N1", 1024)} | {(label == "repl" && !quick ? target?.Goal : "")} | {holds} |\n");
        }
        return sb.ToString();
    }

    /// <summary>The figures an A/B is read by: throughput, latency, loss, memory per connection.</summary>
    private static readonly string[] Compared = ["publishesPerSec", "cpuUsPerPublish", "opensPerSec", "cpuUsPerOpen", "deliveriesPerSec", "p50Ms", "p99Ms", "p999Ms", "lost", "warmupLost", "rssPerConnectionBytes"];

    /// <summary>Per scenario and figure: <paramref name="this"/> / <paramref name="vs"/>, pair by pair, and the median of the pairs.</summary>
    private static string Ratios(List<JsonObject> runs, string @this, string vs)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"A/B: {(@this == "repl" ? "this checkout (repl)" : @this)} / {vs}, run pair by run pair; the median of the pairs in bold");
        sb.AppendLine();
        sb.AppendLine("| scenario | figure | this | vs | this / vs, pair by pair | median |");
        sb.AppendLine("| --- | --- | --- | --- | --- | ---: |");
        foreach (var scenario in runs.Select(r => Str(r, "scenario")).Distinct().Order(StringComparer.Ordinal))
        {
            var mine = runs.Where(r => Str(r, "scenario") == scenario && Str(r, "label") == @this).ToList();
            var theirs = runs.Where(r => Str(r, "scenario") == scenario && Str(r, "label") == vs).ToList();
            if (mine.Count == 0 || theirs.Count == 0) continue;
            foreach (var figure in Compared)
            {
                var path = Figures.First(f => f.Name == figure).Path;
                var a = mine.Select(r => Get(r, path)).ToList();
                var b = theirs.Select(r => Get(r, path)).ToList();
                // Nothing to compare: a figure the scenario does not have (no subscribers in S5, no publishes in O1).
                if (a.Concat(b).All(v => v is null or 0)) continue;
                var pairs = a.Zip(b, (x, y) => x is { } p && y is { } q && q != 0 ? p / q : (double?)null).OfType<double>().Order().ToArray();
                string Values(List<double?> values) => string.Join(", ", values.Select(v => v?.ToString(v >= 100 ? "N0" : "0.##", c) ?? "–"));
                string ratios = pairs.Length == 0 ? "–" : string.Join(", ", a.Zip(b, (x, y) => x is { } p && y is { } q && q != 0 ? (p / q).ToString("0.00", c) : "–"));
                string median = pairs.Length == 0 ? "–" : $"**{Median(pairs).ToString("0.00", c)}**";
                sb.AppendLine(c, $"| {scenario} | {figure} | {Values(a)} | {Values(b)} | {ratios} | {median} |");
            }
        }
        return sb.ToString();
    }

    /// <summary>Repeated ids, plus (with <c>--retry</c>) deliveries no 201 named: a retry committed twice.</summary>
    private static string Duplicated(JsonObject m) =>
        m["duplicated"] is { } d ? (d.GetValue<double>() + (m["unacknowledged"]?.GetValue<double>() ?? 0)).ToString("N0", CultureInfo.InvariantCulture) : "–";

    private static string Str(JsonObject run, string name) => run[name]?.GetValue<string>() ?? "?";

    private static double? Get(JsonObject run, string[] path)
    {
        JsonNode? node = run;
        foreach (var part in path) node = node?[part];
        return node is JsonValue value && value.TryGetValue<double>(out var d) ? d : null;
    }

    private static double Median(double[] sorted) => sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}
