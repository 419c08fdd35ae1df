using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Api;

/// <summary>A body over <c>Limits:MaxBodyBytes</c> is answered 413 JSON, and the client gets to read it.</summary>
/// <remarks>
/// The bodies here (6 MiB) are larger than what the loopback socket buffers hold, so a node that closed the connection
/// with the body unread would reset it under a client that writes the whole body before reading.
/// </remarks>
public sealed class OversizedBodyTests : IAsyncLifetime
{
    private const int BodyBytes = 6 * 1024 * 1024;

    private ReplServer _server = null!;

    public async Task InitializeAsync() => _server = await ReplServer.StartAsync(null, "--Limits:MaxBodyBytes", "1024");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("/topics/demo")]
    [InlineData("/topics")]
    [InlineData("/topics/demo/batch")]
    public async Task WholeBodySentFirst_WithoutExpectContinue_Reads413Json_ThenTheConnectionServesTheNextRequest(string path)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var http = await RawHttp.ConnectAsync(_server.BaseAddress);
        await http.WriteAsync([.. Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: repl\r\nContent-Type: application/json\r\nContent-Length: {BodyBytes}\r\n\r\n"),
            .. new byte[BodyBytes]], timeout.Token);

        var response = await http.ReadResponseAsync(timeout.Token);

        AssertTooLarge(response.Status, response.Body);
        // Drained, not abandoned: the same connection takes the next request.
        await http.WriteAsync("POST /topics/demo HTTP/1.1\r\nHost: repl\r\nContent-Length: 13\r\n\r\n{\"value\":\"x\"}", timeout.Token);
        Assert.Equal(201, (await http.ReadResponseAsync(timeout.Token)).Status);
    }

    [Fact]
    public async Task WholeChunkedBodySentFirst_Reads413Json()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var http = await RawHttp.ConnectAsync(_server.BaseAddress);
        var request = new MemoryStream();
        request.Write(Encoding.ASCII.GetBytes("POST /topics/demo HTTP/1.1\r\nHost: repl\r\nTransfer-Encoding: chunked\r\n\r\n"));
        var chunk = new byte[64 * 1024];
        for (int sent = 0; sent < BodyBytes; sent += chunk.Length)
        {
            request.Write(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
            request.Write(chunk);
            request.Write("\r\n"u8);
        }
        request.Write("0\r\n\r\n"u8);
        await http.WriteAsync(request.ToArray(), timeout.Token);

        var response = await http.ReadResponseAsync(timeout.Token);

        AssertTooLarge(response.Status, response.Body);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HttpClient_GetsTheJson413(bool expectContinue)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/topics/demo") { Content = new ByteArrayContent(new byte[BodyBytes]) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.ExpectContinue = expectContinue;

        using var response = await _server.Client.SendAsync(request);

        AssertTooLarge((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ADeclaredLengthBeyondWhatCanBeDrained_Gets413Json_AndConnectionClose()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using var http = await RawHttp.ConnectAsync(_server.BaseAddress);
        await http.WriteAsync($"POST /topics/demo HTTP/1.1\r\nHost: repl\r\nContent-Length: {100L * 1024 * 1024}\r\n\r\n", timeout.Token);

        var response = await http.ReadResponseAsync(timeout.Token);

        AssertTooLarge(response.Status, response.Body);
        Assert.Equal("close", response.Headers["Connection"]);
    }

    private static void AssertTooLarge(int status, string body)
    {
        Assert.Equal((int)HttpStatusCode.RequestEntityTooLarge, status);
        var json = JsonDocument.Parse(body).RootElement;
        Assert.Equal("body too large", json.GetProperty("error").GetString());
        Assert.Contains("Limits:MaxBodyBytes", json.GetProperty("cause").GetString());
    }
}
