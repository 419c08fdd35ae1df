using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Hooks;

/// <summary>Hooks that fail: the breaker, the bound of calls in flight, an unreachable backend, a wrong secret; and the cache.</summary>
public sealed class HookResilienceTests
{
    [Fact]
    public async Task Breaker_OpensAfterFailures_ThenClosesOnceTheBackendAnswersAgain()
    {
        await using var node = await HookedNode.StartAsync("--Hooks:BreakAfter", "2", "--Hooks:BreakFor", "00:00:00.5");
        await node.Server.Client.CreateTopicAsync("breaker");
        bool down = true;
        node.Backend.Answer = _ => Task.FromResult(down ? Results.StatusCode(500) : HookBackend.Allow());

        // Two 500s: half of the calls in the window failed, and the breaker opens.
        for (int i = 0; i < 2; i++) Assert.Contains("answered 500", (await OpenAsync(node.Server, "/topics/breaker/sse")).Cause);
        node.Backend.Clear();
        var open = await OpenAsync(node.Server, "/topics/breaker/sse");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, open.Status);
        Assert.Contains("circuit breaker is open", open.Cause);
        Assert.Empty(node.Backend.Calls); // not hammered
        Assert.Contains("hook=\"subscribe\"} 1", Line(await MetricsAsync(node.Server), "repl_hook_breaker{"));

        // Back up: after Hooks:BreakFor one call goes through, and it closes the breaker.
        down = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        HttpStatusCode status;
        do
        {
            await node.Backend.NextCallAsync(TimeSpan.FromMilliseconds(100)).ContinueWith(_ => { }, TaskScheduler.Default);
            status = (await OpenAsync(node.Server, "/topics/breaker/sse")).Status;
        }
        while (status != HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.OK, status);
        string metrics = await MetricsAsync(node.Server);
        Assert.Contains("hook=\"subscribe\"} 0", Line(metrics, "repl_hook_breaker{"));
        Assert.DoesNotMatch("} 0$", Line(metrics, "repl_hook_failures_total{", "reason=\"breaker_open\""));
        Assert.Contains("hook=\"subscribe\",reason=\"server_error\"} 2", Line(metrics, "repl_hook_failures_total{", "server_error"));
        Assert.Contains("hook=\"subscribe\"} 0", Line(metrics, "repl_hook_refusals_total{"));
    }

    [Fact]
    public async Task NoSlotWithinSlotWait_Is503_WithoutCallingTheBackend()
    {
        await using var node = await HookedNode.StartAsync("--Hooks:MaxInFlight", "1", "--Hooks:SlotWait", "00:00:00.2", "--Hooks:Timeout", "00:00:05");
        await node.Server.Client.CreateTopicAsync("busy");
        var release = new TaskCompletionSource();
        node.Backend.Answer = async _ =>
        {
            await release.Task;
            return HookBackend.Allow();
        };

        var holding = OpenAsync(node.Server, "/topics/busy/sse");
        await node.Backend.NextCallAsync();
        var second = await OpenAsync(node.Server, "/topics/busy/sse");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.Status);
        Assert.Contains("Hooks:MaxInFlight", second.Cause);
        Assert.Single(node.Backend.Calls);
        release.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await holding).Status);
    }

    [Fact]
    public async Task WrongSecret_FailsTheBackendsSignatureCheck_AndAnUnreachableBackendIs503()
    {
        await using var backend = await HookBackend.StartAsync();
        var gone = await HookBackend.StartAsync();
        string unreachable = gone.PublishUrl;
        await gone.DisposeAsync(); // nothing listens there any more
        await using var server = await ReplServer.StartAsync(null, "--Hooks:Subscribe", backend.SubscribeUrl, "--Hooks:Publish", unreachable,
            "--Hooks:Secret", "not-the-backends-secret-0123456789abcdef");

        var refused = await OpenAsync(server, "/topics/demo/sse");
        var call = await backend.NextCallAsync();
        Assert.False(call.SignatureValid);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Equal("bad signature", refused.Cause);

        var (status, error) = await server.Client.SendAsync(HttpMethod.Post, "/topics/demo", """{"value":"a"}""");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("could not be reached", error.GetProperty("cause").GetString());
    }

    [Fact]
    public async Task Cache_ReusesADecision_ForTheSameCookieAndTopics_NotForAnother()
    {
        await using var node = await HookedNode.StartAsync("--Hooks:CacheFor", "00:01:00");
        node.Backend.Answer = call => Task.FromResult(call.Body.GetProperty("headers").GetProperty("Cookie").GetString() == "session=good"
            ? HookBackend.Allow()
            : Results.Json(new { reason = "no session" }, statusCode: 403));

        for (int i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await OpenAsync(node.Server, "/topics/demo/sse", "session=good")).Status);
        for (int i = 0; i < 2; i++) Assert.Equal(HttpStatusCode.Forbidden, (await OpenAsync(node.Server, "/topics/demo/sse", "session=bad")).Status);
        // Each stream had its own client id; the key leaves it out, so one call per cookie.
        Assert.Equal(2, node.Backend.Calls.Count);
    }

    /// <summary>Opens a stream and closes it at once: its status and, for an error, its cause.</summary>
    internal static async Task<(HttpStatusCode Status, string? Cause)> OpenAsync(ReplServer server, string path, string? cookie = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (cookie is not null) request.Headers.Add("Cookie", cookie);
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode == HttpStatusCode.OK) return (response.StatusCode, null);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return (response.StatusCode, error.GetProperty("cause").GetString());
    }

    private static Task<string> MetricsAsync(ReplServer server) => server.Client.GetStringAsync("/metrics");

    /// <summary>The exposition's line that starts with <paramref name="prefix"/> (and holds <paramref name="also"/>).</summary>
    private static string Line(string metrics, string prefix, string also = "") =>
        metrics.Split('\n').FirstOrDefault(line => line.StartsWith(prefix, StringComparison.Ordinal) && line.Contains(also, StringComparison.Ordinal)) ?? $"(no {prefix} line)";
}
