using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;
using Repl.Host.Tests.Security;
using Repl.Testing;

namespace Repl.Host.Tests.ServerApi;

/// <summary>A node with auth on: a stream's user is its token's <c>sub</c>; the server API needs admin.</summary>
public sealed class ServerApiAuthFixture : IAsyncLifetime
{
    public ReplServer Server { get; private set; } = null!;

    public string Admin { get; } = Tokens.Create(admin: true);

    public async Task InitializeAsync()
    {
        Server = await ReplServer.StartAsync(null, Tokens.Settings());
        var (status, _) = await SendAsync(HttpMethod.Post, "/topics", """{"name":"room"}""", Admin);
        Assert.Equal(HttpStatusCode.Created, status);
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, string? body, string? token)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Server.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>A stream of <c>room</c> as <paramref name="user"/>.</summary>
    public Task<SseStream> OpenAsync(string user) =>
        SseStream.OpenAsync(Server.BaseAddress, "/topics/room/sse", headers: new Dictionary<string, string> { ["Authorization"] = "Bearer " + Tokens.Create(subscribe: "room", subject: user) });
}

/// <summary><c>POST /disconnect</c>: every stream of a user ends, after <c>event: disconnect</c>; with <c>for</c>, new ones are refused.</summary>
public sealed class DisconnectTests(ServerApiAuthFixture fixture) : IClassFixture<ServerApiAuthFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Disconnect_EndsEveryStreamOfTheUser_AfterEventDisconnect_AndOnlyTheirs()
    {
        await using var first = await fixture.OpenAsync("ana");
        await using var second = await fixture.OpenAsync("ana");
        await using var other = await fixture.OpenAsync("bob");
        await Task.WhenAll(first.Connected, second.Connected, other.Connected);

        var (status, body) = await fixture.SendAsync(HttpMethod.Post, "/disconnect", """{"user":"ana","reason":"account closed"}""", fixture.Admin);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body.GetProperty("streams").GetInt32());
        Assert.Equal(1, body.GetProperty("nodes").GetInt32());
        foreach (var stream in new[] { first, second })
        {
            var said = await stream.NextNonPingAsync(Wait);
            Assert.Equal("disconnect", said.Type);
            Assert.Equal("account closed", JsonDocument.Parse(said.Data).RootElement.GetProperty("reason").GetString());
            Assert.True(await stream.EndedAsync(Wait));
        }
        // Bob's stream goes on: it still gets what is published.
        await fixture.SendAsync(HttpMethod.Post, "/topics/room", """{"value":"still here"}""", fixture.Admin);
        Assert.Equal("still here", (await other.MessagesAsync(1, Wait))[0].Message.GetProperty("value").GetString());
        // Without "for", the user may come back at once.
        await using var back = await fixture.OpenAsync("ana");
        await back.Connected;
    }

    [Fact]
    public async Task Disconnect_For_RefusesTheUsersNewStreams_With403()
    {
        await using var stream = await fixture.OpenAsync("carla");
        await stream.Connected;
        var (status, body) = await fixture.SendAsync(HttpMethod.Post, "/disconnect", """{"user":"carla","reason":"spam","for":60}""", fixture.Admin);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, body.GetProperty("streams").GetInt32());
        Assert.Equal("disconnect", (await stream.NextNonPingAsync(Wait)).Type);

        using var again = new HttpRequestMessage(HttpMethod.Get, "/topics/room/sse");
        again.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.Create(subscribe: "room", subject: "carla"));
        using var refused = await fixture.Server.Client.SendAsync(again);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var error = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("user disconnected", error.GetProperty("error").GetString());
        Assert.Contains("spam", error.GetProperty("cause").GetString());
        Assert.InRange(int.Parse(refused.Headers.GetValues("Retry-After").Single()), 1, 60);
        // Others are not refused.
        await using var other = await fixture.OpenAsync("dan");
        await other.Connected;
    }

    [Fact]
    public async Task Disconnect_AUserWithNoStreams_Is200_WithNoStreams()
    {
        var (status, body) = await fixture.SendAsync(HttpMethod.Post, "/disconnect", """{"user":"nobody|with/odd chars","reason":"r"}""", fixture.Admin);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, body.GetProperty("streams").GetInt32());
    }

    [Theory]
    [InlineData("""{"reason":"r"}""", "invalid user")]
    [InlineData("""{"user":"","reason":"r"}""", "invalid user")]
    [InlineData("""{"user":7,"reason":"r"}""", "invalid user")]
    [InlineData("""{"user":"u"}""", "invalid reason")]
    [InlineData("""{"user":"u","reason":null}""", "invalid reason")]
    [InlineData("""{"user":"u","reason":"r","for":-1}""", "invalid for")]
    [InlineData("""{"user":"u","reason":"r","for":1.5}""", "invalid for")]
    [InlineData("""{"user":"u","reason":"r","for":"60"}""", "invalid for")]
    [InlineData("""{"user":"u","reason":"r","for":86401}""", "invalid for")]
    [InlineData("""{"user":"u","reason":""", "malformed JSON")]
    [InlineData("""["u"]""", "malformed JSON")]
    public async Task Disconnect_BadInput_Is400(string body, string error)
    {
        var (status, answer) = await fixture.SendAsync(HttpMethod.Post, "/disconnect", body, fixture.Admin);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(error, answer.GetProperty("error").GetString());
    }

    [Theory]
    [InlineData("POST", "/broadcast", """{"topics":["room"],"value":"x"}""")]
    [InlineData("POST", "/disconnect", """{"user":"ana","reason":"r"}""")]
    [InlineData("DELETE", "/topics/room/clients/some-client", null)]
    public async Task ServerApi_IsAdminOnly(string method, string path, string? body)
    {
        var publisher = Tokens.Create(publish: "*", subscribe: "*");
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.SendAsync(new HttpMethod(method), path, body, null)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await fixture.SendAsync(new HttpMethod(method), path, body, publisher)).Status);
        var (status, _) = await fixture.SendAsync(new HttpMethod(method), path, body, fixture.Admin);
        Assert.True(status is HttpStatusCode.OK or HttpStatusCode.Created or HttpStatusCode.NotFound, $"admin got {status}");
    }
}
