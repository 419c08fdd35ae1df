using System.Text.Json.Nodes;

namespace Repl.Bench;

/// <summary>A scenario's goal from issue #3 (S1–S6) or #4 / #12 (C1–C3: cluster), checked against the medians of its runs on Repl.</summary>
internal sealed record ScenarioTarget(string Scenario, string Setup, string Goal, Func<JsonObject, bool> Holds)
{
    public static readonly ScenarioTarget[] All =
    [
        new("S1", "100 subs, 32 publishers, max rate", "≥ 1,200,000 deliveries/s, 0 lost",
            m => Num(m, "deliveriesPerSec") >= 1_200_000 && Num(m, "lost") == 0),
        new("S2", "1,000 subs, 32 publishers, max rate", "≥ 1,800,000 deliveries/s",
            m => Num(m, "deliveriesPerSec") >= 1_800_000),
        new("S3", "1,000 subs, 200 msg/s", "p99 ≤ 25 ms, p99.9 ≤ 50 ms",
            m => Num(m, "p99Ms") <= 25 && Num(m, "p999Ms") <= 50),
        new("S4", "9,000 subs, 10 msg/s", "p99 ≤ 150 ms, ≤ 8 KB RSS per connection",
            m => Num(m, "p99Ms") <= 150 && Num(m, "rssPerConnectionBytes") <= 8 * 1024),
        new("S5", "0 subs, 64 publishers, max rate, journal on disk", "≥ 60,000 acked publishes/s",
            m => Num(m, "publishesPerSec") >= 60_000),
        new("S6", "1,000 subs + 10 never reading, 200 msg/s", "p99 ≤ 25 ms, p99.9 ≤ 50 ms, RSS flat (≤ 16 MB growth)",
            m => Num(m, "p99Ms") <= 25 && Num(m, "p999Ms") <= 50 && Num(m, "rssGrowthKb") <= 16 * 1024),
        new("C1", "cluster: 3 etcd + 3 nodes, 300 subs over the nodes, publishers on every node, max rate", "≥ 20,000 publishes/s committed and delivered, 0 lost",
            m => Num(m, "publishesPerSec") >= 20_000 && Num(m, "lost") == 0),
        new("C2", "cluster: 3 etcd + 3 nodes, 300 subs over the nodes, 2,000 publishes/s", "p99 ≤ 50 ms at 2,000 publishes/s",
            m => Num(m, "p99Ms") <= 50 && Num(m, "publishesPerSec") >= 1_900),
        new("C3", "cluster: kill -9 of the sequencer's node under 500 publishes/s, keyed retries", "0 lost, 0 duplicated, ≤ 15 s without acknowledgements",
            m => Num(m, "lost") == 0 && Num(m, "duplicated") == 0 && Num(m, "unacknowledged") == 0 && Num(m, "outOfOrder") == 0
                && Num(m, "abandoned") == 0 && Num(m, "handoverS") <= 15),
    ];

    private static double Num(JsonObject m, string name) => m[name]?.GetValue<double>() ?? double.NaN;
}
