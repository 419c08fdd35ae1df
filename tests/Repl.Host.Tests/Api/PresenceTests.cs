using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;
using Repl.Host.Tests.Security;
using Repl.Sse;

namespace Repl.Host.Tests.Api;

/// <summary>A node with presence on for every topic, and auth on: streams' users are their tokens' <c>sub</c>.</summary>
public sealed class PresenceServerFixture : IAsyncLifetime
{
    public ReplServer Server { get; private set; } = null!;

    /// <summary>Leaves are told 1 s after they happen (Topics:PresenceLeaveGrace; 5 s by default).</summary>
    public async Task InitializeAsync() => Server = await ReplServer.StartAsync(null, Tokens.Settings("--Topics:Presence", "true", "--Topics:PresenceLeaveGrace", "00:00:01"));

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary><c>GET /topics/{name}/presence</c> and <c>/presence/stats</c> on one node: what streams show, paging, bad input, grants.</summary>
public sealed class PresenceTests(PresenceServerFixture fixture) : IClassFixture<PresenceServerFixture>
{
    private static readonly TimeSpan Converges = TimeSpan.FromSeconds(10);
    private static readonly string Reader = Tokens.Create(subscribe: new[] { "room:*" }, subject: "reader");

    private ReplServer Server => fixture.Server;

    private async Task<string> NewTopicAsync()
    {
        string topic = "room:" + Guid.NewGuid().ToString("N")[..8];
        using var request = new HttpRequestMessage(HttpMethod.Post, "/topics") { Content = AuthServerFixture.Json($"{{\"name\":\"{topic}\"}}") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.Create(admin: true));
        Assert.Equal(HttpStatusCode.Created, (await Server.Client.SendAsync(request)).StatusCode);
        return topic;
    }

    private Task<SseStream> OpenAsync(string topic, string user, IReadOnlyDictionary<string, string>? headers = null) =>
        SseStream.OpenAsync(Server.BaseAddress, $"/topics/{topic}/sse?access_token={Tokens.Create(subscribe: new[] { topic }, subject: user)}", headers: headers);

    private Task<JsonElement> WaitAsync(string path, Func<JsonElement, bool> until) => Server.Client.WaitUntilAsync(path, until, Converges, Reader);

    private async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string path, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Server.Client.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static string[] Ids(JsonElement page) => [.. page.GetProperty("clients").EnumerateArray().Select(client => client.GetProperty("client").GetString()!)];

    [Fact]
    public async Task Streams_JoinAndLeave_WithTheirUserNodeAndSince_AndAreCounted()
    {
        string topic = await NewTopicAsync();
        var opened = DateTime.UtcNow;
        var ana = await OpenAsync(topic, "ana");
        await using var anaAgain = await OpenAsync(topic, "ana");
        await using var bo = await OpenAsync(topic, "bo");

        var page = await WaitAsync($"/topics/{topic}/presence", body => body.GetProperty("total").GetInt32() == 3);
        Assert.Equal(topic, page.GetProperty("topic").GetString());
        var byId = page.GetProperty("clients").EnumerateArray().ToDictionary(client => client.GetProperty("client").GetString()!);
        // A stream's client id is its request id (the subscribe and events hooks' "client").
        var ids = new[] { ana, anaAgain, bo }.Select(stream => stream.Response.Headers.GetValues("X-Request-Id").Single()).ToArray();
        Assert.Equal(ids.Order(StringComparer.Ordinal), byId.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("ana", byId[ids[0]].GetProperty("user").GetString());
        Assert.Equal("bo", byId[ids[2]].GetProperty("user").GetString());
        Assert.Equal("test", byId[ids[0]].GetProperty("node").GetString());
        Assert.InRange(byId[ids[0]].GetProperty("since").GetDateTime().ToUniversalTime(), opened.AddSeconds(-2), DateTime.UtcNow);

        var (status, stats) = await GetAsync($"/topics/{topic}/presence/stats", Reader);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((topic, 3, 2), (stats.GetProperty("topic").GetString(), stats.GetProperty("clients").GetInt32(), stats.GetProperty("users").GetInt32()));

        await ana.DisposeAsync();
        page = await WaitAsync($"/topics/{topic}/presence", body => body.GetProperty("total").GetInt32() == 2);
        Assert.DoesNotContain(ids[0], Ids(page));
        stats = await WaitAsync($"/topics/{topic}/presence/stats", body => body.GetProperty("users").GetInt32() == 2);
        Assert.Equal(2, stats.GetProperty("clients").GetInt32());
    }

    [Fact]
    public async Task Presence_IsPaged_ByClientId_WithLimitAndAfter()
    {
        string topic = await NewTopicAsync();
        var streams = new List<SseStream>();
        try
        {
            for (int i = 0; i < 3; i++) streams.Add(await OpenAsync(topic, "u" + i));
            var all = Ids(await WaitAsync($"/topics/{topic}/presence", body => body.GetProperty("total").GetInt32() == 3));
            Assert.Equal(all.Order(StringComparer.Ordinal), all);

            var first = await WaitAsync($"/topics/{topic}/presence?limit=2", _ => true);
            Assert.Equal(all[..2], Ids(first));
            Assert.Equal(3, first.GetProperty("total").GetInt32());
            var rest = await WaitAsync($"/topics/{topic}/presence?limit=2&after={all[1]}", _ => true);
            Assert.Equal(all[2..], Ids(rest));
            Assert.Empty(Ids(await WaitAsync($"/topics/{topic}/presence?after={all[2]}", _ => true)));
        }
        finally
        {
            foreach (var stream in streams) await stream.DisposeAsync();
        }
    }

    [Fact]
    public async Task ACallersOwnRequestId_DoesNotBecomeTheClientId_SoTwoStreamsAreTwoClients()
    {
        string topic = await NewTopicAsync();
        var chosen = new Dictionary<string, string> { ["X-Request-Id"] = "my-id" };
        await using var one = await OpenAsync(topic, "ana", chosen);
        await using var two = await OpenAsync(topic, "ana", chosen);
        var ids = Ids(await WaitAsync($"/topics/{topic}/presence", body => body.GetProperty("total").GetInt32() == 2));
        Assert.Equal(2, ids.Distinct().Count());
        Assert.DoesNotContain("my-id", ids);
    }

    private static (string Topic, string Client, string? User) Change(SseEvent change)
    {
        var data = JsonDocument.Parse(change.Data).RootElement;
        return (data.GetProperty("topic").GetString()!, data.GetProperty("client").GetString()!, data.GetProperty("user").GetString());
    }

    /// <summary>The next event that is not a ping; presence events never carry an id.</summary>
    private static async Task<SseEvent> NextAsync(SseStream stream, string type)
    {
        var next = await stream.NextNonPingAsync(Converges);
        Assert.Equal((type, null), (next.Type, next.Id));
        return next;
    }

    [Fact]
    public async Task APresenceStream_StartsWithTheCounts_ThenIsToldAnotherStreamsJoinAndLeave()
    {
        string topic = await NewTopicAsync();
        await using var watcher = await SseStream.OpenAsync(Server.BaseAddress,
            $"/topics/{topic}/sse?presence=1&access_token={Tokens.Create(subscribe: new[] { topic }, subject: "wendy")}");
        // The counts come once the topic's entity has counted the stream itself.
        var counts = JsonDocument.Parse((await NextAsync(watcher, "presence")).Data).RootElement;
        Assert.Equal((topic, 1, 1), (counts.GetProperty("topic").GetString(), counts.GetProperty("clients").GetInt32(), counts.GetProperty("users").GetInt32()));

        var other = await OpenAsync(topic, "bo");
        string id = other.Response.Headers.GetValues("X-Request-Id").Single();
        Assert.Equal((topic, id, "bo"), Change(await NextAsync(watcher, "join")));
        await other.DisposeAsync();
        Assert.Equal((topic, id, "bo"), Change(await NextAsync(watcher, "leave")));
    }

    [Fact]
    public async Task AUserWhoReconnectsWithinTheGrace_IsNotToldAsALeaveAndAJoin()
    {
        string topic = await NewTopicAsync();
        await using var watcher = await SseStream.OpenAsync(Server.BaseAddress,
            $"/sse?topic={topic}&presence=true&access_token={Tokens.Create(subscribe: new[] { topic }, subject: "wendy")}");
        await NextAsync(watcher, "presence");
        var first = await OpenAsync(topic, "bo");
        Assert.Equal("bo", Change(await NextAsync(watcher, "join")).User);

        // bo's stream drops and comes back (a new client) within the grace: neither is told.
        await first.DisposeAsync();
        await using var again = await OpenAsync(topic, "bo");
        var cy = await OpenAsync(topic, "cy");
        Assert.Equal("cy", Change(await NextAsync(watcher, "join")).User);
        await cy.DisposeAsync();
        Assert.Equal("cy", Change(await NextAsync(watcher, "leave")).User);
    }

    [Fact]
    public async Task PresenceEvents_WithABadValue_OrOnATopicWithPresenceOff_Are400()
    {
        string topic = await NewTopicAsync();
        string token = Tokens.Create(subscribe: new[] { "room:*" });
        foreach (var query in new[] { $"/topics/{topic}/sse?presence=yes", $"/sse?topic={topic}&presence=0", $"/sse?topic={topic}&presence=1&presence=1" })
        {
            var (status, body) = await GetAsync(query, token);
            Assert.Equal((HttpStatusCode.BadRequest, "invalid presence"), (status, body.GetProperty("error").GetString()));
            Assert.Contains("presence", body.GetProperty("cause").GetString());
        }

        using var patch = new HttpRequestMessage(HttpMethod.Patch, $"/topics/{topic}") { Content = AuthServerFixture.Json("{\"presence\":false}") };
        patch.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.Create(admin: true));
        Assert.Equal(HttpStatusCode.OK, (await Server.Client.SendAsync(patch)).StatusCode);
        var (off, error) = await GetAsync($"/sse?topic={topic}&presence=1", token);
        Assert.Equal((HttpStatusCode.BadRequest, "presence off"), (off, error.GetProperty("error").GetString()));
        Assert.Contains($"'{topic}'", error.GetProperty("cause").GetString());
        Assert.Contains("PATCH /topics/", error.GetProperty("cause").GetString());
    }

    [Theory]
    [InlineData("--Topics:PresenceLeaveGrace", "-00:00:01")]
    [InlineData("--Topics:PresenceEventsUpTo", "-1")]
    [InlineData("--Topics:PresenceEventsUpTo", "1001")]
    public void APresenceEventSettingThatCannotWork_StopsTheNode(string setting, string value)
    {
        var error = Assert.Throws<Repl.Host.SettingsException>(() => ReplHost.Build([setting, value, "--Journal:InMemory", "true"]));
        Assert.Contains(setting[2..] + " is ", error.Message);
    }

    [Theory]
    [InlineData("/topics/{0}/presence?limit=0", 400, "invalid limit")]
    [InlineData("/topics/{0}/presence?limit=1001", 400, "invalid limit")]
    [InlineData("/topics/{0}/presence?limit=ten", 400, "invalid limit")]
    [InlineData("/topics/{0}/presence?after=not%20an%20id", 400, "invalid after")]
    [InlineData("/topics/room:nope/presence", 404, "topic not found")]
    [InlineData("/topics/room:nope/presence/stats", 404, "topic not found")]
    [InlineData("/topics/room:bad%20name/presence", 400, "invalid topic name")]
    public async Task BadInput_GetsAJsonError(string path, int status, string error)
    {
        string topic = await NewTopicAsync();
        var (actual, body) = await GetAsync(string.Format(System.Globalization.CultureInfo.InvariantCulture, path, topic), Reader);
        Assert.Equal(status, (int)actual);
        Assert.Equal(error, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Presence_NeedsASubscribeGrantOnTheTopic()
    {
        string topic = await NewTopicAsync();
        var elsewhere = Tokens.Create(subscribe: new[] { "other:*" });
        foreach (var path in new[] { $"/topics/{topic}/presence", $"/topics/{topic}/presence/stats" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(path)).Status);
            Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync(path, elsewhere)).Status);
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(path, Reader)).Status);
        }
    }
}
