using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Repl.Host.Tests.Hooks;

/// <summary>The publish hook against a real backend on loopback: asked before the batcher, it may rewrite or refuse.</summary>
public sealed class PublishHookTests(HookedNodeFixture fixture) : IClassFixture<HookedNodeFixture>
{
    private HookBackend Backend => fixture.Node.Backend;
    private Infrastructure.ReplServer Server => fixture.Node.Server;

    [Fact]
    public async Task Rewrite_CommitsTheValueAndHeadersTheHookGave()
    {
        await Server.Client.CreateTopicAsync("rewrite");
        Backend.Clear();
        Backend.Answer = call => Task.FromResult(call.Hook == "publish"
            ? HookBackend.Allow(new { allow = true, value = call.Body.GetProperty("value").GetString()!.ToUpperInvariant(), headers = new { checkedBy = "backend" } })
            : HookBackend.Allow());

        var (status, body) = await Server.Client.SendAsync(HttpMethod.Post, "/topics/rewrite", """{"value":"hello","headers":{"from":"ana"}}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("HELLO", body.GetProperty("data").GetProperty("value").GetString());

        var call = await Backend.NextCallAsync();
        Assert.Equal("publish", call.Hook);
        Assert.True(call.SignatureValid);
        Assert.Equal("rewrite", call.Body.GetProperty("topic").GetString());
        Assert.Equal("hello", call.Body.GetProperty("value").GetString());
        Assert.Equal("ana", call.Body.GetProperty("headers").GetProperty("from").GetString());
        Assert.Equal("127.0.0.1", call.Body.GetProperty("ip").GetString());

        var stored = Assert.Single(await HistoryAsync("rewrite"));
        Assert.Equal("HELLO", stored.GetProperty("value").GetString());
        Assert.Equal("backend", stored.GetProperty("headers").GetProperty("checkedBy").GetString());
        Assert.False(stored.GetProperty("headers").TryGetProperty("from", out _));
    }

    [Fact]
    public async Task Broadcast_IsOneCall_WithItsTopics_AndTheRewriteGoesToEveryTopic()
    {
        await Server.Client.CreateTopicAsync("broadcast-1");
        await Server.Client.CreateTopicAsync("broadcast-2");
        Backend.Clear();
        Backend.Answer = call => Task.FromResult(call.Hook == "publish"
            ? HookBackend.Allow(new { allow = true, value = call.Body.GetProperty("value").GetString()!.ToUpperInvariant() })
            : HookBackend.Allow());

        var (status, _) = await Server.Client.SendAsync(HttpMethod.Post, "/broadcast", """{"topics":["broadcast-1","broadcast-2"],"value":"all of you"}""");

        Assert.Equal(HttpStatusCode.Created, status);
        var call = Assert.Single(Backend.Calls);
        Assert.True(call.SignatureValid);
        Assert.Equal(["broadcast-1", "broadcast-2"], call.Body.GetProperty("topics").EnumerateArray().Select(topic => topic.GetString()));
        Assert.False(call.Body.TryGetProperty("topic", out _));
        Assert.Equal("all of you", call.Body.GetProperty("value").GetString());
        Assert.Equal("ALL OF YOU", Assert.Single(await HistoryAsync("broadcast-1")).GetProperty("value").GetString());
        Assert.Equal("ALL OF YOU", Assert.Single(await HistoryAsync("broadcast-2")).GetProperty("value").GetString());

        // A refusal commits nothing on any topic.
        Backend.Answer = call => Task.FromResult(call.Hook == "publish" ? HookBackend.Allow(new { allow = false, reason = "not now" }) : HookBackend.Allow());
        var (refused, error) = await Server.Client.SendAsync(HttpMethod.Post, "/broadcast", """{"topics":["broadcast-1","broadcast-2"],"value":"again"}""");
        Assert.Equal(HttpStatusCode.Forbidden, refused);
        Assert.Contains("not now", error.GetProperty("cause").GetString());
        Assert.Single(await HistoryAsync("broadcast-1"));
        Assert.Single(await HistoryAsync("broadcast-2"));
    }

    [Theory]
    [InlineData(200, """{"allow":false,"reason":"spam"}""", 403, "spam")]
    [InlineData(401, """{"reason":"who are you?"}""", 401, "who are you?")]
    [InlineData(500, "down", 503, "answered 500")]
    public async Task RefusalOrFailure_CommitsNothing(int hookStatus, string hookBody, int expected, string cause)
    {
        string topic = $"refused-{hookStatus}";
        await Server.Client.CreateTopicAsync(topic);
        Backend.Answer = call => Task.FromResult(call.Hook == "publish" ? Results.Text(hookBody, "application/json", statusCode: hookStatus) : HookBackend.Allow());

        var (status, error) = await Server.Client.SendAsync(HttpMethod.Post, $"/topics/{topic}", """{"value":"hello"}""");
        Assert.Equal(expected, (int)status);
        Assert.Contains(cause, error.GetProperty("cause").GetString());
        var (batchStatus, _) = await Server.Client.SendAsync(HttpMethod.Post, $"/topics/{topic}/batch", """[{"value":"a"},{"value":"b"}]""");
        Assert.Equal(expected, (int)batchStatus);

        Assert.Empty(await HistoryAsync(topic));
    }

    [Fact]
    public async Task ARewriteOverTheTopicsMaxMessageBytes_Is413_AndNothingIsCommitted()
    {
        await Server.Client.CreateTopicAsync("sized");
        var (patched, _) = await Server.Client.SendAsync(HttpMethod.Patch, "/topics/sized", """{"maxMessageBytes":200}""");
        Assert.Equal(HttpStatusCode.OK, patched);
        Backend.Clear();
        Backend.Answer = call => Task.FromResult(call.Hook != "publish" ? HookBackend.Allow()
            : call.Body.TryGetProperty("messages", out var messages)
                ? HookBackend.Allow(new { allow = true, messages = messages.EnumerateArray().Select(_ => new { value = new string('x', 500) }).ToArray() })
                : HookBackend.Allow(new { allow = true, value = new string('x', 500) }));

        var (single, error) = await Server.Client.SendAsync(HttpMethod.Post, "/topics/sized", """{"value":"short"}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, single);
        Assert.Equal("message too large", error.GetProperty("error").GetString());
        var (batch, batchError) = await Server.Client.SendAsync(HttpMethod.Post, "/topics/sized/batch", """[{"value":"a"},{"value":"b"}]""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, batch);
        Assert.Contains("item 0", batchError.GetProperty("cause").GetString());
        Assert.Empty(await HistoryAsync("sized"));
    }

    [Fact]
    public async Task Batch_IsOneCall_AndEachMessageMayBeRewritten()
    {
        await Server.Client.CreateTopicAsync("batch");
        Backend.Clear();
        Backend.Answer = call => Task.FromResult(call.Hook == "publish"
            ? HookBackend.Allow(new
            {
                allow = true,
                messages = call.Body.GetProperty("messages").EnumerateArray()
                    .Select((message, i) => new { value = $"{i}:{message.GetProperty("value").GetString()}", headers = new { n = i.ToString() } }).ToArray(),
            })
            : HookBackend.Allow());

        var (status, _) = await Server.Client.SendAsync(HttpMethod.Post, "/topics/batch/batch", """[{"value":"a"},{"value":"b"},{"value":"c"}]""");
        Assert.Equal(HttpStatusCode.Created, status);
        var call = Assert.Single(Backend.Calls);
        Assert.Equal(3, call.Body.GetProperty("messages").GetArrayLength());
        Assert.Equal(["0:a", "1:b", "2:c"], (await HistoryAsync("batch")).Select(message => message.GetProperty("value").GetString()));
    }

    [Fact]
    public async Task ARetryWithAnIdempotencyKey_AsksTheHookAgain_AndIsCommittedOnce()
    {
        await Server.Client.CreateTopicAsync("retried");
        Backend.Clear();
        Backend.Answer = _ => Task.FromResult(HookBackend.Allow());

        var first = await Server.Client.TryPublishAsync("retried", "paid", idempotencyKey: "order-17");
        var again = await Server.Client.TryPublishAsync("retried", "paid", idempotencyKey: "order-17");
        Assert.Equal(HttpStatusCode.Created, again.Status);
        Assert.Equal(first.Id, again.Id);
        Assert.Equal(2, Backend.Calls.Count(call => call.Hook == "publish"));
        Assert.Single(await HistoryAsync("retried"));
    }

    [Fact]
    public async Task AHookCall_IsAChildSpanOfTheRequestsTrace()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Repl" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        Backend.Clear();
        Backend.Answer = _ => Task.FromResult(HookBackend.Allow());

        var traceId = ActivityTraceId.CreateRandom();
        var caller = ActivitySpanId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/topics/demo") { Content = new StringContent("""{"value":"a"}""") };
        request.Headers.Add("traceparent", $"00-{traceId}-{caller}-01");
        using var response = await Server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        var hook = spans.Single(span => span.DisplayName == "hook publish" && span.TraceId == traceId);
        // The node's request span (the backend, in this process too, has one in the same trace, under the hook's call).
        // It stops after the response is sent, so it may come a moment after the answer.
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!spans.Any(IsNodeRequest) && DateTime.UtcNow < deadline) await Task.Delay(20);
        var server = spans.Single(IsNodeRequest);
        Assert.Equal(server.SpanId, hook.ParentSpanId);
        Assert.Equal(ActivityKind.Client, hook.Kind);
        // HttpClient passes the trace on: the backend's own spans can join it.
        Assert.Contains(traceId.ToString(), (await Backend.NextCallAsync()).Headers["traceparent"]);

        bool IsNodeRequest(Activity span) => span.Source.Name == "Microsoft.AspNetCore" && span.ParentSpanId == caller;
    }

    private async Task<List<JsonElement>> HistoryAsync(string topic)
    {
        var (status, body) = await Server.Client.SendAsync(HttpMethod.Get, $"/topics/{topic}/messages?after=0");
        Assert.Equal(HttpStatusCode.OK, status);
        return [.. body.GetProperty("messages").EnumerateArray()];
    }
}
