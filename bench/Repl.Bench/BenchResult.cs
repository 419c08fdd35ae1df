using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Repl.Bench;

/// <summary>What one run measured, and its two renderings: one JSON line and a table.</summary>
internal sealed class BenchResult
{
    public required BenchOptions Options { get; init; }
    public double ConnectSeconds { get; set; }
    public int ConnectFailures { get; set; }
    public double ConnectMsP50 { get; set; }
    public double ConnectMsP99 { get; set; }
    public double ConnectMsMax { get; set; }
    public double PublishSeconds { get; set; }
    public double DrainSeconds { get; set; }
    public double DeliverySeconds { get; set; }
    public long Accepted { get; set; }
    public long Rejected { get; set; }
    public long PublishErrors { get; set; }
    public string? PublishLastError { get; set; }
    public long Delivered { get; set; }
    public long Lost { get; set; }
    public long Extra { get; set; }
    public long Duplicates { get; set; }
    public long OutOfOrder { get; set; }
    public int SubscribersWithLoss { get; set; }
    public int Disconnected { get; set; }
    public string? SubscriberError { get; set; }
    /// <summary>With <c>--retry</c>: deliveries of ids no 201 named (a retried message committed twice), summed over subscribers.</summary>
    public long Unacknowledged { get; set; }
    /// <summary>With <c>--retry</c>: messages given up without a 201.</summary>
    public long Abandoned { get; set; }
    /// <summary>With <c>--retry</c>: the fewest and most distinct messages of the window one subscriber received.</summary>
    public long? DeliveredPerSubscriberMin { get; set; }
    public long? DeliveredPerSubscriberMax { get; set; }
    /// <summary>With <c>--kill-pid</c>: the acknowledgements around the kill.</summary>
    public HandoverWindow? Handover { get; set; }

    /// <summary>Why a <c>--retry</c> run fails (the program then exits 1): any message lost, duplicated, out of order or given up.</summary>
    public string? Failure => Options.Retry && Lost + Duplicates + OutOfOrder + Unacknowledged + Abandoned > 0
        ? $"{Lost} lost, {Duplicates + Unacknowledged} duplicated ({Unacknowledged} never acknowledged), {OutOfOrder} out of order, {Abandoned} publishes given up"
        : null;
    public LatencyHistogram Latency { get; set; } = new();
    public LatencyHistogram AckLatency { get; set; } = new();
    public double ClientCpuSeconds { get; set; }
    public ProcessSample? ServerBefore { get; set; }
    public ProcessSample? ServerConnected { get; set; }
    /// <summary>As the last subscriber's response head came: <see cref="ServerBefore"/> to here is what opening the streams cost.</summary>
    public ProcessSample? ServerOpened { get; set; }
    public ProcessSample? ServerPublished { get; set; }
    /// <summary>At the first measured publish (after warm-up).</summary>
    public ProcessSample? ServerStart { get; set; }
    public long WarmupAccepted { get; set; }
    /// <summary>Messages of the warm-up that a stream did not get, summed: the streams had just opened (counted from their heads).</summary>
    public long WarmupLost { get; set; }
    public ProcessSample? ServerAfter { get; set; }
    /// <summary>The etcd members (<c>--etcd-pid</c>), summed, at the first measured publish and after the drain.</summary>
    public ProcessSample? EtcdStart { get; set; }
    public ProcessSample? EtcdAfter { get; set; }
    /// <summary>Busy share of each CPU, all processes, from the first publish to the end of the drain.</summary>
    public SortedDictionary<int, double> CpuBusyPercent { get; set; } = [];
    /// <summary>The CPU the server (and etcd, if given) is pinned to, if all are pinned to the same one.</summary>
    public int? ServerCpu { get; set; }
    public double LoadAverage { get; set; }

    private double? ServerCpuPercent => PercentOfRun(ServerCpuSeconds);

    private double? EtcdCpuSeconds => EtcdStart is { } start && EtcdAfter is { } after ? after.CpuSeconds - start.CpuSeconds : null;

    private double? EtcdCpuPercent => PercentOfRun(EtcdCpuSeconds);

    /// <summary>CPU seconds as a share of one core over the measured window (publishing and drain).</summary>
    private double? PercentOfRun(double? cpuSeconds) => cpuSeconds is { } cpu ? 100 * cpu / Math.Max(0.001, PublishSeconds + DrainSeconds) : null;

    /// <summary>How much of the server's core other processes (not the server, not etcd) used: a run with a high figure here is noise.</summary>
    private double? OthersOnServerCpuPercent => ServerCpu is { } core && CpuBusyPercent.TryGetValue(core, out var busy) && ServerCpuPercent is { } own
        ? Math.Round(Math.Max(0, busy - own - (EtcdCpuPercent ?? 0)), 1)
        : null;

    /// <summary>Server RSS once a second while publishing.</summary>
    public List<long> RssSamplesKb { get; } = [];

    /// <summary>RSS at the end of publishing minus RSS a quarter of the way in (after warm-up): ~0 when memory is flat.</summary>
    private long? RssGrowthKb => RssSamplesKb.Count >= 4 ? RssSamplesKb[^1] - RssSamplesKb[RssSamplesKb.Count / 4] : null;

    public double PublishesPerSecond => PublishSeconds > 0 ? Accepted / PublishSeconds : 0;

    private int Opened => Options.Subscribers - ConnectFailures;

    /// <summary>Streams opened (response heads read) per second of the connect phase, 200 in flight.</summary>
    public double OpensPerSecond => ConnectSeconds > 0 ? Opened / ConnectSeconds : 0;

    /// <summary>Server CPU per acknowledged publish over the measured window: robust to the VM's drift, unlike a rate.</summary>
    private double? ServerCpuMicrosPerPublish => ServerCpuSeconds is { } cpu && Accepted > 0 ? cpu * 1e6 / Accepted : null;

    /// <summary>Server CPU per stream opened, over the connect phase.</summary>
    private double? ServerCpuMicrosPerOpen => ServerBefore is { } before && ServerOpened is { } opened && Opened > 0
        ? (opened.CpuSeconds - before.CpuSeconds) * 1e6 / Opened
        : null;

    public double DeliveriesPerSecond => DeliverySeconds > 0 ? Delivered / DeliverySeconds : 0;

    public long ExpectedDeliveries => Accepted * (Options.Subscribers - ConnectFailures);

    private int Connections => Options.Subscribers + Options.NonReaders + Options.SlowReaders;

    private long? RssPerConnectionBytes => ServerBefore is { } before && ServerConnected is { } connected && Connections > 0
        ? (connected.RssKb - before.RssKb) * 1024 / Connections
        : null;

    /// <summary>Server CPU seconds from the first publish to the end of the drain.</summary>
    private double? ServerCpuSeconds => (ServerStart ?? ServerConnected) is { } start && ServerAfter is { } after ? after.CpuSeconds - start.CpuSeconds : null;

    private static double Ms(long micros) => Math.Round(micros / 1000.0, 3);

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("scenario", Options.Scenario);
            w.WriteString("label", Options.Label);
            w.WriteString("url", string.Join(',', Options.Urls.Select(url => url.ToString())));
            w.WriteNumber("servers", Options.Urls.Count);
            w.WriteNumber("subscribers", Options.Subscribers);
            w.WriteNumber("nonReaders", Options.NonReaders);
            w.WriteNumber("slowReaders", Options.SlowReaders);
            w.WriteNumber("publishers", Options.Publishers);
            w.WriteString("receiver", Options.Receiver);
            w.WriteNumber("rate", Options.Rate);
            w.WriteNumber("durationS", Options.DurationSeconds);
            w.WriteNumber("warmupS", Options.WarmupSeconds);
            w.WriteNumber("warmupAccepted", WarmupAccepted);
            w.WriteNumber("warmupLost", WarmupLost);
            w.WriteNumber("valueBytes", Options.ValueBytes);
            w.WriteNumber("accepted", Accepted);
            w.WriteNumber("rejected", Rejected);
            w.WriteNumber("publishErrors", PublishErrors);
            if (PublishLastError is not null) w.WriteString("publishLastError", PublishLastError);
            w.WriteNumber("publishesPerSec", Math.Round(PublishesPerSecond, 1));
            w.WriteNumber("delivered", Delivered);
            w.WriteNumber("expectedDeliveries", ExpectedDeliveries);
            w.WriteNumber("deliveriesPerSec", Math.Round(DeliveriesPerSecond, 1));
            w.WriteNumber("lost", Lost);
            w.WriteNumber("duplicated", Duplicates);
            w.WriteNumber("outOfOrder", OutOfOrder);
            w.WriteNumber("extra", Extra);
            w.WriteNumber("subscribersWithLoss", SubscribersWithLoss);
            w.WriteNumber("disconnected", Disconnected);
            if (SubscriberError is not null) w.WriteString("subscriberError", SubscriberError);
            if (Options.Retry)
            {
                w.WriteNumber("unacknowledged", Unacknowledged);
                w.WriteNumber("abandoned", Abandoned);
                w.WriteStartObject("deliveredPerSubscriber");
                w.WriteNumber("min", DeliveredPerSubscriberMin ?? 0);
                w.WriteNumber("max", DeliveredPerSubscriberMax ?? 0);
                w.WriteEndObject();
            }
            if (Handover is { } handover)
            {
                w.WriteStartObject("handover");
                w.WriteNumber("killAtS", Math.Round(handover.KillAtSeconds, 3));
                w.WriteNumber("longestWithoutAckS", Math.Round(handover.LongestWithoutAckSeconds, 3));
                if (handover.ResumedAfterKillSeconds is { } resumed) w.WriteNumber("resumedAfterKillS", Math.Round(resumed, 3));
                w.WriteNumber("ackedAfterKill", handover.AckedAfterKill);
                w.WriteEndObject();
            }
            if (Failure is not null) w.WriteString("failed", Failure);
            w.WriteStartObject("latencyMs");
            w.WriteNumber("samples", Latency.Count);
            w.WriteNumber("mean", Math.Round(Latency.MeanMicros / 1000, 3));
            w.WriteNumber("p50", Ms(Latency.ValueAt(0.50)));
            w.WriteNumber("p99", Ms(Latency.ValueAt(0.99)));
            w.WriteNumber("p999", Ms(Latency.ValueAt(0.999)));
            w.WriteNumber("max", Ms(Latency.MaxMicros));
            w.WriteEndObject();
            w.WriteStartObject("ackLatencyMs");
            w.WriteNumber("p50", Ms(AckLatency.ValueAt(0.50)));
            w.WriteNumber("p99", Ms(AckLatency.ValueAt(0.99)));
            w.WriteNumber("max", Ms(AckLatency.MaxMicros));
            w.WriteEndObject();
            w.WriteStartObject("connect");
            w.WriteNumber("totalS", Math.Round(ConnectSeconds, 3));
            w.WriteNumber("p50Ms", Math.Round(ConnectMsP50, 3));
            w.WriteNumber("p99Ms", Math.Round(ConnectMsP99, 3));
            w.WriteNumber("maxMs", Math.Round(ConnectMsMax, 3));
            w.WriteNumber("failed", ConnectFailures);
            w.WriteNumber("opensPerSec", Math.Round(OpensPerSecond, 1));
            if (ServerCpuMicrosPerOpen is { } perOpen) w.WriteNumber("serverCpuUsPerOpen", Math.Round(perOpen, 1));
            w.WriteEndObject();
            w.WriteNumber("publishS", Math.Round(PublishSeconds, 3));
            w.WriteNumber("drainS", Math.Round(DrainSeconds, 3));
            w.WriteNumber("clientCpuS", Math.Round(ClientCpuSeconds, 2));
            w.WriteStartObject("server");
            // One process: "pid"; several (cluster nodes): "pids", and every figure below is their sum.
            if (Options.ServerPids is [var pid]) w.WriteNumber("pid", pid);
            else if (Options.ServerPids.Count > 1)
            {
                w.WriteStartArray("pids");
                foreach (int p in Options.ServerPids) w.WriteNumberValue(p);
                w.WriteEndArray();
            }
            if (ServerCpuSeconds is { } cpu)
            {
                w.WriteNumber("cpuS", Math.Round(cpu, 2));
                w.WriteNumber("cpuPct", Math.Round(ServerCpuPercent ?? 0, 1));
                if (ServerCpuMicrosPerPublish is { } perPublish) w.WriteNumber("cpuUsPerPublish", Math.Round(perPublish, 1));
            }
            if (ServerBefore is { } b) w.WriteNumber("rssBeforeKb", b.RssKb);
            if (ServerConnected is { } c) w.WriteNumber("rssConnectedKb", c.RssKb);
            if (ServerAfter is { } a) w.WriteNumber("rssAfterKb", a.RssKb);
            if (RssPerConnectionBytes is { } per) w.WriteNumber("rssPerConnectionBytes", per);
            if (RssSamplesKb.Count > 0) w.WriteNumber("rssMaxKb", RssSamplesKb.Max());
            if (RssGrowthKb is { } growth) w.WriteNumber("rssGrowthKb", growth);
            if (OthersOnServerCpuPercent is { } others) w.WriteNumber("othersOnCorePct", others);
            if (EtcdCpuSeconds is { } etcdCpu && EtcdAfter is { } etcdAfter)
            {
                w.WriteStartObject("etcd");
                w.WriteNumber("members", Options.EtcdPids.Count);
                w.WriteNumber("cpuS", Math.Round(etcdCpu, 2));
                w.WriteNumber("cpuPct", Math.Round(EtcdCpuPercent ?? 0, 1));
                w.WriteNumber("rssAfterKb", etcdAfter.RssKb);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteStartObject("machine");
            w.WriteNumber("loadAvg1", LoadAverage);
            w.WriteStartObject("cpuBusyPct");
            foreach (var (core, busy) in CpuBusyPercent) w.WriteNumber(core.ToString(CultureInfo.InvariantCulture), busy);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public string ToTable()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        void Row(string name, string value) => sb.Append(c, $"  {name,-28} {value}\n");
        sb.Append(c, $"scenario {Options.Scenario} on {Options.Label}: {Options.Subscribers} subscribers (+{Options.NonReaders} non-reading, +{Options.SlowReaders} slow), {Options.Publishers} publishers, rate {(Options.Rate > 0 ? Options.Rate.ToString("N0", c) + " msg/s" : "max")}, {Options.DurationSeconds.ToString(c)} s, {string.Join(' ', Options.Urls)}\n");
        Row("publishes accepted", $"{Accepted:N0} ({PublishesPerSecond:N0}/s), rejected {Rejected:N0}, errors {PublishErrors:N0}{(PublishLastError is null ? "" : " — " + PublishLastError)}");
        Row("publish ack latency", $"p50 {Ms(AckLatency.ValueAt(0.5)):N2} ms, p99 {Ms(AckLatency.ValueAt(0.99)):N2} ms, max {Ms(AckLatency.MaxMicros):N2} ms");
        Row("deliveries", $"{Delivered:N0} of {ExpectedDeliveries:N0} ({DeliveriesPerSecond:N0}/s)");
        Row("publish→receive latency", $"p50 {Ms(Latency.ValueAt(0.5)):N2} ms, p99 {Ms(Latency.ValueAt(0.99)):N2} ms, p99.9 {Ms(Latency.ValueAt(0.999)):N2} ms, max {Ms(Latency.MaxMicros):N2} ms");
        Row("lost / dup / out of order", $"{Lost:N0} / {Duplicates + Unacknowledged:N0} / {OutOfOrder:N0} ({SubscribersWithLoss} subscribers with loss, {Disconnected} disconnected){(SubscriberError is null ? "" : " — " + SubscriberError)}");
        if (Options.WarmupSeconds > 0) Row("lost in warm-up", $"{WarmupLost:N0} of {WarmupAccepted:N0} × {Options.Subscribers:N0} (streams counted from their heads)");
        if (Options.Retry)
        {
            Row("careful client", $"{Accepted:N0} acknowledged after {Rejected:N0} non-201 answers and {PublishErrors:N0} broken or unanswered attempts, all retried with their key; {Abandoned:N0} given up");
            Row("delivered per subscriber", $"{DeliveredPerSubscriberMin:N0}–{DeliveredPerSubscriberMax:N0} of {Accepted:N0} acknowledged; {Unacknowledged:N0} deliveries no 201 named");
        }
        if (Handover is { } h)
        {
            Row("kill -9", $"at {h.KillAtSeconds:N1} s: longest without an acknowledgement {h.LongestWithoutAckSeconds:N2} s, {(h.ResumedAfterKillSeconds is { } r ? $"until {r:N2} s after the kill" : "none after the kill")}; {h.AckedAfterKill:N0} acknowledged after it");
        }
        if (Failure is not null) Row("FAILED", Failure);
        Row("connect", $"{ConnectSeconds:N2} s for all ({OpensPerSecond:N0} opens/s{(ServerCpuMicrosPerOpen is { } perOpen ? $", server CPU {perOpen:N0} µs per open" : "")}), per connection p50 {ConnectMsP50:N1} ms, p99 {ConnectMsP99:N1} ms, failed {ConnectFailures}{(ConnectFailures > 0 && SubscriberError is not null ? " — " + SubscriberError : "")}");
        Row("drain", $"{DrainSeconds:N2} s");
        Row("bench CPU", $"{ClientCpuSeconds:N2} s");
        if (ServerCpuSeconds is { } cpu) Row(Options.ServerPids.Count > 1 ? $"server CPU ({Options.ServerPids.Count} processes)" : "server CPU", $"{cpu:N2} s ({ServerCpuPercent:N0} % of one core{(ServerCpuMicrosPerPublish is { } perPublish ? $", {perPublish:N1} µs per publish" : "")}){(OthersOnServerCpuPercent is { } o ? $"; other processes took {o:N0} % of its core" : "")}");
        if (EtcdCpuSeconds is { } etcd) Row($"etcd CPU ({Options.EtcdPids.Count} members)", $"{etcd:N2} s ({EtcdCpuPercent:N0} % of one core), RSS {EtcdAfter?.RssKb / 1024.0:N1} MB after");
        Row("machine", $"load average {LoadAverage:N1}; CPU busy {string.Join(", ", CpuBusyPercent.Select(p => $"cpu{p.Key} {p.Value:N0} %"))}");
        if (ServerBefore is { } b && ServerConnected is { } cn && ServerAfter is { } a)
            Row("server RSS", $"{b.RssKb / 1024.0:N1} MB before, {cn.RssKb / 1024.0:N1} MB connected, {a.RssKb / 1024.0:N1} MB after; {RssPerConnectionBytes / 1024.0:N1} KB per connection{(RssGrowthKb is { } g ? $"; grew {g / 1024.0:N1} MB while publishing (after warm-up)" : "")}");
        return sb.ToString();
    }
}
