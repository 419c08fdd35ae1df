using System.Globalization;
using System.Text.RegularExpressions;
using Repl.Host.Metrics;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Metrics;

public sealed partial class MetricsTests
{
    [Fact]
    public async Task Metrics_AfterPublishesAndASubscriber_CountersMove()
    {
        await using var server = await ReplServer.StartAsync();
        await server.Client.CreateTopicAsync("watched");
        var before = await ScrapeAsync(server);

        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/watched/sse");
        for (int i = 0; i < 5; i++) await server.Client.PublishAsync("watched", "m" + i);
        await stream.MessagesAsync(5);
        // A write is counted once its flush has completed, which can be just after the client has read it.
        var after = await ScrapeAsync(server);
        for (var deadline = DateTime.UtcNow.AddSeconds(10); after["repl_delivered_total"] < before["repl_delivered_total"] + 5 && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(20);
            after = await ScrapeAsync(server);
        }

        Assert.True(after["repl_published_total"] >= before["repl_published_total"] + 5);
        Assert.True(after["repl_delivered_total"] >= before["repl_delivered_total"] + 5);
        Assert.True(after["repl_stream_writes_total"] > before["repl_stream_writes_total"]);
        Assert.True(after["repl_committed_position"] > before["repl_committed_position"]);
        Assert.Equal(1, after["repl_streams_open"]);
        Assert.Equal(1, after["repl_topic_subscribers{topic=\"watched\"}"]);
        Assert.True(after["repl_topics"] >= 2);
        Assert.True(after["repl_journal_bytes"] > 0);
        // A histogram has no series before its first measurement.
        Assert.True(after["repl_publish_duration_seconds_count"] >= before.GetValueOrDefault("repl_publish_duration_seconds_count") + 5);
        Assert.True(after["repl_commit_duration_seconds_count"] > before.GetValueOrDefault("repl_commit_duration_seconds_count"));
        Assert.True(after["repl_http_requests_total{code=\"2xx\"}"] > before["repl_http_requests_total{code=\"2xx\"}"]);
        Assert.Equal(0, after["repl_subscribers_cut_off_total"]);
        // Failed writes, by outcome, are series from the start.
        Assert.Equal(0, after["repl_writes_failed_total{outcome=\"not_committed\"}"]);
        Assert.Equal(0, after["repl_writes_failed_total{outcome=\"unknown\"}"]);

        await server.Client.SendAsync(HttpMethod.Get, "/topics/nope");
        var later = await ScrapeAsync(server);
        Assert.True(later["repl_http_requests_total{code=\"4xx\"}"] > after["repl_http_requests_total{code=\"4xx\"}"]);
    }

    [Fact]
    public async Task Metrics_IsValidExpositionFormat_WithCumulativeBuckets()
    {
        await using var server = await ReplServer.StartAsync();
        await server.Client.PublishAsync("demo", "x");
        using var response = await server.Client.GetAsync("/metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        string text = await response.Content.ReadAsStringAsync();
        var types = new HashSet<string>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                Assert.True(types.Add(line.Split(' ')[2]), "metric declared twice: " + line);
                continue;
            }
            if (line.StartsWith('#')) continue;
            Assert.Matches(SampleLine(), line);
        }
        var samples = Parse(text);
        long previous = 0;
        foreach (var bound in ReplTelemetry.LatencyBuckets.Select(bound => bound.ToString("R", CultureInfo.InvariantCulture)).Append("+Inf"))
        {
            long count = (long)samples[$"repl_commit_duration_seconds_bucket{{le=\"{bound}\"}}"];
            Assert.True(count >= previous);
            previous = count;
        }
        Assert.Equal(previous, samples["repl_commit_duration_seconds_count"]);
    }

    [Fact]
    public async Task Metrics_OfTwoNodesInOneProcess_AreEachNodesOwn()
    {
        // Each node's meter comes from its own IMeterFactory; another node's streams must not show in this node's scrape.
        await using var watched = await ReplServer.StartAsync();
        await using var quiet = await ReplServer.StartAsync();
        await using var stream = await SseStream.OpenAsync(watched.BaseAddress, "/topics/demo/sse");
        await watched.Client.PublishAsync("demo", "x");
        await stream.MessagesAsync(1);

        var samples = await ScrapeAsync(quiet);
        Assert.Equal(0, samples["repl_streams_open"]);
        Assert.Equal(0, samples["repl_topic_subscribers{topic=\"demo\"}"]);
        Assert.Equal(1, (await ScrapeAsync(watched))["repl_streams_open"]);
    }

    [Fact]
    public async Task RequestId_IsEchoed_WhenSane_ElseGenerated()
    {
        await using var server = await ReplServer.StartAsync();
        using var kept = new HttpRequestMessage(HttpMethod.Get, "/health");
        kept.Headers.Add("X-Request-Id", "abc-123.x:y");
        using var keptResponse = await server.Client.SendAsync(kept);
        Assert.Equal("abc-123.x:y", keptResponse.Headers.GetValues("X-Request-Id").Single());

        using var replaced = new HttpRequestMessage(HttpMethod.Get, "/topics/nope");
        replaced.Headers.TryAddWithoutValidation("X-Request-Id", "bad id <script>");
        using var replacedResponse = await server.Client.SendAsync(replaced);
        string generated = replacedResponse.Headers.GetValues("X-Request-Id").Single();
        Assert.Matches("^[0-9a-f]{32}$", generated);
        using var next = await server.Client.GetAsync("/health");
        string another = next.Headers.GetValues("X-Request-Id").Single();
        Assert.Matches("^[0-9a-f]{32}$", another);
        Assert.NotEqual(generated, another);
    }

    private static async Task<Dictionary<string, double>> ScrapeAsync(ReplServer server) => Parse(await server.Client.GetStringAsync("/metrics"));

    /// <summary>Samples by series, without the <c>otel_scope_name</c> label the exporter puts on every one (and without <c>target_info</c>).</summary>
    private static Dictionary<string, double> Parse(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => !line.StartsWith('#') && !line.StartsWith("target_info", StringComparison.Ordinal))
            .Select(line => (Name: WithoutScope(line[..line.LastIndexOf(' ')]), Value: line[(line.LastIndexOf(' ') + 1)..]))
            .ToDictionary(sample => sample.Name, sample => sample.Value == "+Inf" ? double.PositiveInfinity : double.Parse(sample.Value, CultureInfo.InvariantCulture));

    private static string WithoutScope(string series) => ScopeLabel().Replace(series, "").Replace("{}", "");

    [GeneratedRegex("""otel_scope_name="[^"]*",?""")]
    private static partial Regex ScopeLabel();

    [GeneratedRegex("""^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? [-+0-9.eE]+$""")]
    private static partial Regex SampleLine();
}
