using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Security;

public sealed class LimitsTests
{
    [Fact]
    public async Task PublishFlood_OverRate_Gets429WithRetryAfter_WhileOtherPublisherIsServed()
    {
        await using var server = await ReplServer.StartAsync(null, Tokens.Settings("--Limits:PublishPerSecond", "5"));
        var flooder = Tokens.Create(publish: "demo", subject: "flooder");
        var other = Tokens.Create(publish: "demo", subject: "other");

        var responses = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => PublishAsync(server, flooder)));
        try
        {
            var refused = responses.Where(response => response.StatusCode == HttpStatusCode.TooManyRequests).ToList();
            Assert.NotEmpty(refused);
            Assert.Contains(responses, response => response.StatusCode == HttpStatusCode.Created);
            Assert.All(responses, response => Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.TooManyRequests));
            var retryAfter = refused[0].Headers.RetryAfter?.Delta;
            Assert.NotNull(retryAfter);
            Assert.InRange(retryAfter.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
            var body = JsonDocument.Parse(await refused[0].Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("rate limited", body.GetProperty("error").GetString());
            Assert.Contains("PublishPerSecond", body.GetProperty("cause").GetString());

            using var served = await PublishAsync(server, other);
            Assert.Equal(HttpStatusCode.Created, served.StatusCode);
        }
        finally
        {
            foreach (var response in responses) response.Dispose();
        }
    }

    [Fact]
    public async Task MaxStreams_Reached_Returns503_AndMaxStreamsPerIp_Returns429()
    {
        await using var server = await ReplServer.StartAsync(null, "--Limits:MaxStreams", "2");
        await using var first = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse");
        await using var second = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse");
        var (status, body) = await server.Client.SendAsync(HttpMethod.Get, "/topics/demo/sse");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("MaxStreams", body.GetProperty("cause").GetString());

        await using var perIp = await ReplServer.StartAsync(null, "--Limits:MaxStreamsPerIp", "1");
        await using var only = await SseStream.OpenAsync(perIp.BaseAddress, "/sse?topic=demo");
        (status, body) = await perIp.Client.SendAsync(HttpMethod.Get, "/topics/demo/sse");
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Contains("MaxStreamsPerIp", body.GetProperty("cause").GetString());
    }

    [Fact]
    public async Task StreamsPerIp_AStreamWhoseClientLeft_GivesItsSlotBack()
    {
        await using var server = await ReplServer.StartAsync(null, "--Limits:MaxStreamsPerIp", "1");
        var first = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse");
        Assert.Equal(HttpStatusCode.TooManyRequests, await StreamStatusAsync(server));

        // The client goes away mid-stream (the request is aborted, not ended by the server): once the server has seen it,
        // the address may stream again.
        await first.DisposeAsync();
        var status = HttpStatusCode.TooManyRequests;
        for (var deadline = DateTime.UtcNow.AddSeconds(15); status != HttpStatusCode.OK && DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            status = await StreamStatusAsync(server);
        }
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task BehindATrustedProxy_StreamsPerIp_CountTheForwardedClient_WhichCannotBeForged()
    {
        await using var proxied = await ReplServer.StartAsync(null, "--Limits:MaxStreamsPerIp", "1", "--Proxy:Trusted", "127.0.0.1, 10.0.0.0/8");
        await using var alice = await SseStream.OpenAsync(proxied.BaseAddress, "/topics/demo/sse", headers: ForwardedFor("203.0.113.1"));
        await using var bob = await SseStream.OpenAsync(proxied.BaseAddress, "/topics/demo/sse", headers: ForwardedFor("203.0.113.2"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StreamStatusAsync(proxied, "203.0.113.1"));
        // Through a second trusted hop, the client is still found.
        Assert.Equal(HttpStatusCode.TooManyRequests, await StreamStatusAsync(proxied, "203.0.113.2, 10.1.2.3"));
        // A client that sends the header itself gets its own address appended by the proxy: that one counts.
        Assert.Equal(HttpStatusCode.TooManyRequests, await StreamStatusAsync(proxied, "198.51.100.7, 203.0.113.1"));

        await using var direct = await ReplServer.StartAsync(null, "--Limits:MaxStreamsPerIp", "1");
        await using var first = await SseStream.OpenAsync(direct.BaseAddress, "/topics/demo/sse", headers: ForwardedFor("203.0.113.1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await StreamStatusAsync(direct, "203.0.113.2")); // no trusted proxy: the header is ignored
    }

    [Fact]
    public async Task Proxy_TrustedEntryThatIsNotAnAddress_FailsAtStart()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await ReplServer.StartAsync(null, "--Proxy:Trusted", "proxy.example"));
        Assert.Contains("Proxy:Trusted", error.ToString());
    }

    private static Dictionary<string, string> ForwardedFor(string chain) => new() { ["X-Forwarded-For"] = chain };

    private static async Task<HttpStatusCode> StreamStatusAsync(ReplServer server, string? forwardedFor = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/topics/demo/sse");
        if (forwardedFor is not null) request.Headers.Add("X-Forwarded-For", forwardedFor);
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return response.StatusCode;
    }

    [Fact]
    public async Task Cors_SubscribeOpenToAll_PublishOnlyListedOrigins()
    {
        await using var server = await ReplServer.StartAsync(null, "--Cors:PublishOrigins", "https://app.example");
        using var subscribePreflight = await PreflightAsync(server, "/topics/demo/sse", "GET", "https://any.example");
        Assert.Equal("*", Single(subscribePreflight, "Access-Control-Allow-Origin"));

        using var strangerPublish = await PreflightAsync(server, "/topics/demo", "POST", "https://any.example");
        Assert.False(strangerPublish.Headers.Contains("Access-Control-Allow-Origin"));

        using var appPublish = await PreflightAsync(server, "/topics/demo", "POST", "https://app.example");
        Assert.Equal("https://app.example", Single(appPublish, "Access-Control-Allow-Origin"));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/topics");
        request.Headers.Add("Origin", "https://any.example");
        using var response = await server.Client.SendAsync(request);
        Assert.Equal("*", Single(response, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Cors_PublishDefaultsToSameOriginOnly()
    {
        await using var server = await ReplServer.StartAsync();
        using var preflight = await PreflightAsync(server, "/topics/demo", "POST", "https://any.example");
        Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Cors_TheJsClientModule_CanBeImportedFromAnyOrigin_PagesAreNotShared()
    {
        // A page on another origin imports the client as an ES module, and a module script is fetched in CORS mode:
        // without Access-Control-Allow-Origin the browser refuses it (a classic <script> would need no header).
        await using var server = await ReplServer.StartAsync(null, "--Cors:SubscribeOrigins", "https://app.example");
        using var module = new HttpRequestMessage(HttpMethod.Get, "/client/repl-client.js");
        module.Headers.Add("Origin", "https://elsewhere.example");
        using var answer = await server.Client.SendAsync(module);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Equal("*", Single(answer, "Access-Control-Allow-Origin"));
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Credentials"));

        using var page = new HttpRequestMessage(HttpMethod.Get, "/index.html");
        page.Headers.Add("Origin", "https://elsewhere.example");
        using var pageAnswer = await server.Client.SendAsync(page);
        Assert.Equal(HttpStatusCode.OK, pageAnswer.StatusCode);
        Assert.False(pageAnswer.Headers.Contains("Access-Control-Allow-Origin"));
    }

    private static async Task<HttpResponseMessage> PreflightAsync(ReplServer server, string path, string method, string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        var response = await server.Client.SendAsync(request);
        Assert.True(response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.OK, $"preflight answered {(int)response.StatusCode}");
        return response;
    }

    private static string Single(HttpResponseMessage response, string header) =>
        response.Headers.TryGetValues(header, out var values) ? values.Single() : throw new Xunit.Sdk.XunitException($"no {header} header");

    private static async Task<HttpResponseMessage> PublishAsync(ReplServer server, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/topics/demo") { Content = AuthServerFixture.Json("{\"value\":\"x\"}") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await server.Client.SendAsync(request);
    }
}
