using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Repl.Host.Tests.Infrastructure;
using Repl.Host.Tests.Security;

namespace Repl.Host.Tests.Hooks;

/// <summary>Hooks beside JWT auth and tracing: the token is checked first, its claims go to the hook, the call is a span of the request's trace.</summary>
public sealed class HookAuthTests
{
    [Fact]
    public async Task WithJwtAuth_TheTokenIsCheckedFirst_AndTheHookGetsItsUserAndClaims()
    {
        await using var backend = await HookBackend.StartAsync();
        await using var server = await ReplServer.StartAsync(null, Tokens.Settings("--Hooks:Subscribe", backend.SubscribeUrl, "--Hooks:Secret", HookBackend.Secret));
        string token = Tokens.Create(subscribe: new[] { "demo" }, subject: "ana");

        await using (await SseStream.OpenAsync(server.BaseAddress, $"/topics/demo/sse?access_token={token}"))
        {
            var call = await backend.NextCallAsync();
            Assert.Equal("ana", call.Body.GetProperty("user").GetString());
            var claims = call.Body.GetProperty("claims");
            Assert.Equal("ana", claims.GetProperty("sub").GetString());
            Assert.True(claims.TryGetProperty("repl.subscribe", out _));
        }

        // No token: 401 from the node's own check, and the backend is never asked.
        backend.Clear();
        var (status, _) = await HookResilienceTests.OpenAsync(server, "/topics/demo/sse");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Empty(backend.Calls);
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
        await using var node = await HookedNode.StartAsync();

        var traceId = ActivityTraceId.CreateRandom();
        var caller = ActivitySpanId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/topics/demo") { Content = new StringContent("""{"value":"a"}""") };
        request.Headers.Add("traceparent", $"00-{traceId}-{caller}-01");
        using var response = await node.Server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        var hook = spans.Single(span => span.DisplayName == "hook publish" && span.TraceId == traceId);
        // The node's request span (the backend, in this process too, has one in the same trace, under the hook's call).
        var server = spans.Single(span => span.Source.Name == "Microsoft.AspNetCore" && span.ParentSpanId == caller);
        Assert.Equal(server.SpanId, hook.ParentSpanId);
        Assert.Equal(ActivityKind.Client, hook.Kind);
        // HttpClient passes the trace on: the backend's own spans can join it.
        Assert.Contains(traceId.ToString(), (await node.Backend.NextCallAsync()).Headers["traceparent"]);
    }
}
