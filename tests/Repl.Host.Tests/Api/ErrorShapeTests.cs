using System.Net;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Api;

/// <summary>
/// Every error the pipeline can shape is JSON: URLs and headers over the node's limits, wrong methods on every route
/// (static files included); and what Kestrel answers on its own, before any middleware, is as the README says.
/// </summary>
public sealed class ErrorShapeTests : IAsyncLifetime
{
    private ReplServer _server = null!;

    public async Task InitializeAsync() => _server = await ReplServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AUrlOverTheLimit_Gets414Json()
    {
        var (status, body) = await _server.Client.SendAsync(HttpMethod.Get, "/topics/demo?x=" + new string('x', 20_000));

        Assert.Equal(HttpStatusCode.RequestUriTooLong, status);
        Assert.Equal("URI too long", body.GetProperty("error").GetString());
        Assert.Contains("Limits:MaxUrlBytes", body.GetProperty("cause").GetString());
    }

    [Fact]
    public async Task AStreamOfTheMostTopicsWithTheLongestNames_FitsInTheUrlLimit()
    {
        // 64 names of 128 characters: about 8.6 KB of query, over Kestrel's default request line of 8 KB.
        string query = string.Join('&', Enumerable.Range(0, 64).Select(i => "topic=" + i.ToString("D3") + new string('t', 125)));

        var (status, body) = await _server.Client.SendAsync(HttpMethod.Get, "/sse?" + query);

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("topic not found", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task HeadersOverTheByteLimit_Get431Json()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/topics");
        request.Headers.Add("X-Big", new string('b', 40_000));

        var (status, body) = await SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, status);
        Assert.Equal("headers too large", body.GetProperty("error").GetString());
        Assert.Contains("Limits:MaxHeaderBytes", body.GetProperty("cause").GetString());
    }

    [Fact]
    public async Task MoreHeadersThanTheCountLimit_Get431Json()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/topics");
        for (int i = 0; i < 150; i++) request.Headers.Add($"X-H{i}", "v");

        var (status, body) = await SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, status);
        Assert.Contains("Limits:MaxHeaderCount", body.GetProperty("cause").GetString());
    }

    public static TheoryData<string, string, string> WrongMethods => new()
    {
        { "PUT", "/topics", "GET, POST" },
        { "PUT", "/topics/demo", "DELETE, GET, PATCH, POST" },
        { "POST", "/topics/demo/sse", "GET" },
        { "GET", "/topics/demo/batch", "POST" },
        { "POST", "/topics/demo/messages", "GET" },
        { "DELETE", "/sse", "GET" },
        { "POST", "/health", "GET" },
        { "POST", "/healthz", "GET" },
        { "POST", "/readyz", "GET" },
        { "PUT", "/metrics", "GET" },
        { "POST", "/cluster", "GET" },
        { "POST", "/", "GET, HEAD" },
        { "POST", "/index.html", "GET, HEAD" },
        { "DELETE", "/demo.html", "GET, HEAD" },
        { "PUT", "/client/repl-client.js", "GET, HEAD" },
    };

    [Theory]
    [MemberData(nameof(WrongMethods))]
    public async Task AWrongMethod_Gets405Json_WithAllow(string method, string path, string allow)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await _server.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("method not allowed", json.GetProperty("error").GetString());
        Assert.Contains(allow, json.GetProperty("cause").GetString());
    }

    [Fact]
    public async Task AMissingStaticFile_IsStill404()
    {
        var (status, body) = await _server.Client.SendAsync(HttpMethod.Post, "/no-such-page.html");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not found", body.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("GARBAGE\r\n\r\n", 400)] // a malformed request line
    [InlineData("GET /topics HTTP/1.1\r\n\r\n", 400)] // no Host
    [InlineData("GET /topics HTTP/3.0\r\nHost: repl\r\n\r\n", 505)]
    public async Task WhatKestrelRefusesBeforeTheApp_HasAnEmptyBody(string request, int status)
    {
        var response = await SendRawAsync(request);

        Assert.Equal(status, response.Status);
        Assert.Equal("", response.Body);
    }

    [Fact]
    public async Task AUrlOverKestrelsOwnLimit_GetsKestrelsBare414()
    {
        var response = await SendRawAsync($"GET /topics?x={new string('x', 70_000)} HTTP/1.1\r\nHost: repl\r\n\r\n");

        Assert.Equal(414, response.Status);
        Assert.Equal("", response.Body);
    }

    private async Task<RawHttp.Response> SendRawAsync(string request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var http = await RawHttp.ConnectAsync(_server.BaseAddress);
        await http.WriteAsync(request, timeout.Token);
        return await http.ReadResponseAsync(timeout.Token);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpRequestMessage request)
    {
        using var response = await _server.Client.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }
}
