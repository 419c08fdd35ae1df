using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Repl.Host.Tests.Hooks;

/// <summary>The subscribe hook against a real backend on loopback: who may open which stream, decided before its head.</summary>
public sealed class SubscribeHookTests(HookedNodeFixture fixture) : IClassFixture<HookedNodeFixture>
{
    private HookBackend Backend => fixture.Node.Backend;
    private Infrastructure.ReplServer Server => fixture.Node.Server;

    [Fact]
    public async Task Allow_OpensTheStream_AfterASignedCallWithTopicsClientIpAndForwardedCookie()
    {
        await Server.Client.CreateTopicAsync("allow-a");
        Backend.Clear();
        Backend.Answer = _ => Task.FromResult(HookBackend.Allow());

        await using var stream = await SseStream.OpenAsync(Server.BaseAddress, "/sse?topic=allow-a", headers: new Dictionary<string, string>
        {
            ["Cookie"] = "session=abc",
            ["X-Not-Forwarded"] = "secret",
        });
        var call = await Backend.NextCallAsync();
        Assert.Equal("subscribe", call.Hook);
        Assert.True(call.SignatureValid);
        Assert.Equal(["allow-a"], call.Body.GetProperty("topics").EnumerateArray().Select(topic => topic.GetString()));
        Assert.Equal(stream.Response.Headers.GetValues("X-Request-Id").Single(), call.Body.GetProperty("client").GetString());
        Assert.Equal("127.0.0.1", call.Body.GetProperty("ip").GetString());
        Assert.Equal(JsonValueKind.Null, call.Body.GetProperty("user").ValueKind);
        var headers = call.Body.GetProperty("headers");
        Assert.Equal("session=abc", headers.GetProperty("Cookie").GetString());
        Assert.False(headers.TryGetProperty("X-Not-Forwarded", out _));

        long id = await Server.Client.PublishAsync("allow-a", "hello");
        var message = await stream.NextNonPingAsync();
        Assert.Equal(id, SseStream.Position(message.Id!));
    }

    [Theory]
    [InlineData(200, """{"allow":false,"reason":"no ticket for this room"}""", 403, "no ticket for this room")]
    [InlineData(403, """{"reason":"banned"}""", 403, "banned")]
    [InlineData(401, """{"reason":"log in first"}""", 401, "log in first")]
    [InlineData(403, "", 403, "the subscribe hook refused")]
    public async Task Refusal_AnswersItsStatus_WithTheBackendsReason_AndNoStream(int hookStatus, string hookBody, int expected, string cause)
    {
        await Server.Client.CreateTopicAsync($"deny-{hookStatus}-{hookBody.Length}");
        Backend.Answer = _ => Task.FromResult(Results.Text(hookBody, "application/json", statusCode: hookStatus));

        var (status, error) = await GetStreamAsync($"/topics/deny-{hookStatus}-{hookBody.Length}/sse");
        Assert.Equal(expected, (int)status);
        Assert.Equal(cause, error.GetProperty("cause").GetString());
    }

    [Fact]
    public async Task Narrow_TheStreamFollowsOnlyTheTopicsTheHookGave()
    {
        await Server.Client.CreateTopicAsync("narrow-a");
        await Server.Client.CreateTopicAsync("narrow-b");
        // "narrow-c" was not asked for: the hook may narrow, never widen.
        Backend.Answer = _ => Task.FromResult(HookBackend.Allow(new { allow = true, topics = new[] { "narrow-b", "narrow-c" } }));

        await using var stream = await SseStream.OpenAsync(Server.BaseAddress, "/sse?topic=narrow-a&topic=narrow-b");
        var connected = JsonDocument.Parse((await stream.Connected).Data).RootElement;
        Assert.Equal(["narrow-b"], connected.GetProperty("topics").EnumerateArray().Select(topic => topic.GetString()));
        await Server.Client.PublishAsync("narrow-a", "not for you");
        long id = await Server.Client.PublishAsync("narrow-b", "for you");
        var message = await stream.NextNonPingAsync();
        Assert.Equal(id, SseStream.Position(message.Id!));
    }

    [Fact]
    public async Task ExpiresIn_EndsTheStreamWithExpired()
    {
        await Server.Client.CreateTopicAsync("expires");
        Backend.Answer = _ => Task.FromResult(HookBackend.Allow(new { allow = true, expiresIn = 0.5, user = "ana" }));

        await using var stream = await SseStream.OpenAsync(Server.BaseAddress, "/topics/expires/sse");
        var ended = await stream.NextNonPingAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("expired", ended.Type);
        Assert.Contains("expiresIn", ended.Data);
        Assert.True(await stream.EndedAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Timeout_Is503WithRetryAfter_AndSaysTheHookFailed()
    {
        await Server.Client.CreateTopicAsync("slow");
        Backend.Answer = async _ =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5));
            return HookBackend.Allow();
        };

        var (status, error, retryAfter) = await GetStreamWithRetryAfterAsync("/topics/slow/sse");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("hook failed", error.GetProperty("error").GetString());
        Assert.Contains("no answer within Hooks:Timeout", error.GetProperty("cause").GetString());
        Assert.NotNull(retryAfter);
    }

    [Theory]
    [InlineData(500, "server_error")]
    [InlineData(502, "server_error")]
    [InlineData(404, "answered 404")]
    [InlineData(200, "not the hook JSON")]
    public async Task ServerErrorOrAnAnswerItCannotRead_Is503(int hookStatus, string said)
    {
        await Server.Client.CreateTopicAsync($"broken-{hookStatus}");
        Backend.Answer = _ => Task.FromResult(Results.Text("oops", "text/plain", statusCode: hookStatus));

        var (status, error, retryAfter) = await GetStreamWithRetryAfterAsync($"/topics/broken-{hookStatus}/sse");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("hook failed", error.GetProperty("error").GetString());
        Assert.Equal("1", retryAfter);
        if (said != "server_error") Assert.Contains(said, error.GetProperty("cause").GetString());
        else Assert.Contains($"answered {hookStatus}", error.GetProperty("cause").GetString());
    }

    [Fact]
    public async Task BadInput_IsRefusedBeforeTheHookIsAsked()
    {
        Backend.Clear();
        var (status, _) = await GetStreamAsync("/topics/no-such-topic/sse");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Empty(Backend.Calls);
    }

    private Task<(HttpStatusCode Status, JsonElement Error)> GetStreamAsync(string path) =>
        GetStreamWithRetryAfterAsync(path).ContinueWith(task => (task.Result.Status, task.Result.Error), TaskScheduler.Default);

    private async Task<(HttpStatusCode Status, JsonElement Error, string? RetryAfter)> GetStreamWithRetryAfterAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await Server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return (response.StatusCode, error, response.Headers.TryGetValues("Retry-After", out var values) ? values.Single() : null);
    }
}
