using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Metrics;

public sealed class TracingTests
{
    [Fact]
    public async Task Tracing_IsOff_ByDefault()
    {
        await using var server = await ReplServer.StartAsync();
        Assert.Null(server.Services.GetService<TracerProvider>());
    }

    [Fact]
    public async Task Tracing_WithTheConsoleExporter_HasATracerProvider()
    {
        await using var server = await ReplServer.StartAsync(null, "--Telemetry:Console", "true");
        Assert.NotNull(server.Services.GetService<TracerProvider>());
    }

    [Fact]
    public async Task Publish_WithTraceparent_MakesASpanInTheCallersTrace()
    {
        // A listener of our own (ActivityListener is process-wide): what a tracer provider would receive.
        var spans = new ConcurrentQueue<Activity>();
        using var listener = Listen(spans, "Repl", "Microsoft.AspNetCore");
        await using var server = await ReplServer.StartAsync();
        string topic = "traced-" + Guid.NewGuid().ToString("N")[..8];
        await server.Client.CreateTopicAsync(topic);

        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}/batch") { Content = new StringContent("""[{"value":"a"},{"value":"b"}]""") };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);

        var span = spans.Single(activity => activity.Source.Name == "Repl" && Equals(activity.GetTagItem("messaging.destination.name"), topic));
        Assert.Equal("publish batch", span.DisplayName);
        Assert.Equal(traceId, span.TraceId);
        Assert.Equal(2, span.GetTagItem("messaging.batch.message_count"));
        Assert.True((long)span.GetTagItem("repl.position.last")! > (long)span.GetTagItem("repl.position.first")!);
    }

    [Fact]
    public async Task ThePublishTrace_CrossesTheEngine_TheCommitAndApplySpansLinkToIt()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = Listen(spans, "Repl", "Repl.Actors", "Microsoft.AspNetCore");
        await using var server = await ReplServer.StartAsync();
        string topic = "traced-" + Guid.NewGuid().ToString("N")[..8];
        await server.Client.CreateTopicAsync(topic);

        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}") { Content = new StringContent("""{"value":"a"}""") };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);

        // The write that committed it links to the publish span (a write has many publishers: links, not a parent)...
        var publish = spans.Single(activity => activity.Source.Name == "Repl" && Equals(activity.GetTagItem("messaging.destination.name"), topic));
        var commit = spans.Single(activity => activity.Source.Name == "Repl.Actors" && activity.DisplayName == "commit"
            && activity.Links.Any(link => link.Context.SpanId == publish.SpanId));
        Assert.Equal(traceId, commit.Links.First(link => link.Context.SpanId == publish.SpanId).Context.TraceId);
        // ...and the node's apply of that batch links to the write.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!spans.Any(activity => activity.DisplayName == "apply" && activity.Links.Any(link => link.Context.SpanId == commit.SpanId)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Contains(spans, activity => activity.Source.Name == "Repl.Actors" && activity.DisplayName == "apply" && activity.Links.Any(link => link.Context.SpanId == commit.SpanId));
    }

    /// <summary>Records every stopped span of <paramref name="sources"/>, sampled, until disposed.</summary>
    private static ActivityListener Listen(ConcurrentQueue<Activity> spans, params string[] sources)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => sources.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
