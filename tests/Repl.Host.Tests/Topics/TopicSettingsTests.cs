using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;
using Repl.Host.Tests.Security;

namespace Repl.Host.Tests.Topics;

/// <summary>One node shared by the settings tests; each test works on topics of its own.</summary>
public sealed class SettingsServerFixture : IAsyncLifetime
{
    public ReplServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ReplServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary><c>PATCH /topics/{name}</c>: settings committed through the log, shown by topic info, enforced on publish.</summary>
public sealed class TopicSettingsTests(SettingsServerFixture fixture) : IClassFixture<SettingsServerFixture>
{
    private HttpClient Client => fixture.Server.Client;

    private static string NewTopic() => "settings-" + Guid.NewGuid().ToString("N")[..8];

    private Task<(HttpStatusCode Status, JsonElement Body)> PatchAsync(string topic, string body) => Client.SendAsync(HttpMethod.Patch, $"/topics/{topic}", body);

    [Fact]
    public async Task Patch_SetsWhatItNames_NullGivesTheNodesBack_AndTopicInfoShowsThem()
    {
        string topic = NewTopic();
        await Client.CreateTopicAsync(topic);
        var (_, before) = await Client.SendAsync(HttpMethod.Get, $"/topics/{topic}");
        Assert.Equal("""{"retention":{"maxMessages":null,"maxAge":null},"maxMessageBytes":null,"publishRate":null,"presence":null}""", before.GetProperty("settings").GetRawText());

        var (status, changed) = await PatchAsync(topic, """{"retention":{"maxMessages":10,"maxAge":"01:00:00"},"publishRate":5,"presence":true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(topic, changed.GetProperty("topic").GetString());
        Assert.Equal("""{"retention":{"maxMessages":10,"maxAge":"01:00:00"},"maxMessageBytes":null,"publishRate":5,"presence":true}""", changed.GetProperty("settings").GetRawText());

        // Merged: what this one leaves out stays; its nulls go back to the node's settings. A duration may be seconds.
        (status, changed) = await PatchAsync(topic, """{"retention":{"maxAge":90},"publishRate":null,"maxMessageBytes":64}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var (_, info) = await Client.SendAsync(HttpMethod.Get, $"/topics/{topic}");
        Assert.Equal("""{"retention":{"maxMessages":10,"maxAge":"00:01:30"},"maxMessageBytes":64,"publishRate":null,"presence":true}""", info.GetProperty("settings").GetRawText());
        Assert.Equal(changed.GetProperty("settings").GetRawText(), info.GetProperty("settings").GetRawText());
    }

    [Theory]
    [InlineData("", "empty body")]
    [InlineData("[]", "invalid settings")]
    [InlineData("\"presence\"", "invalid settings")]
    [InlineData("{", "malformed JSON")]
    [InlineData("{}", "no settings")]
    [InlineData("""{"colour":"red"}""", "'colour'")]
    [InlineData("""{"publishRate":0}""", "invalid publishRate")]
    [InlineData("""{"publishRate":"5"}""", "invalid publishRate")]
    [InlineData("""{"publishRate":1e9}""", "invalid publishRate")]
    [InlineData("""{"maxMessageBytes":0}""", "invalid maxMessageBytes")]
    [InlineData("""{"maxMessageBytes":1.5}""", "invalid maxMessageBytes")]
    [InlineData("""{"presence":"yes"}""", "invalid presence")]
    [InlineData("""{"retention":5}""", "invalid retention")]
    [InlineData("""{"retention":{"maxMessages":-1}}""", "invalid retention.maxMessages")]
    [InlineData("""{"retention":{"maxAge":"soon"}}""", "invalid retention.maxAge")]
    [InlineData("""{"retention":{"maxAge":-5}}""", "invalid retention.maxAge")]
    [InlineData("""{"retention":{"keep":1}}""", "'retention.keep'")]
    [InlineData("""{"presence":true,"publishRate":-1}""", "invalid publishRate")]
    public async Task Patch_BadInput_Is400NamingTheField_AndChangesNothing(string body, string expected)
    {
        string topic = NewTopic();
        await Client.CreateTopicAsync(topic);
        var (status, error) = await PatchAsync(topic, body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains(expected, error.GetProperty("error").GetString() + " " + error.GetProperty("cause").GetString());
        var (_, info) = await Client.SendAsync(HttpMethod.Get, $"/topics/{topic}");
        Assert.Equal(JsonValueKind.Null, info.GetProperty("settings").GetProperty("presence").ValueKind);
    }

    [Fact]
    public async Task Patch_UnknownTopic_Is404_AndAnInvalidName400()
    {
        var (status, error) = await PatchAsync(NewTopic(), """{"presence":true}""");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("topic not found", error.GetProperty("error").GetString());
        (status, error) = await PatchAsync("bad%20name", """{"presence":true}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid topic name", error.GetProperty("error").GetString());
    }

    [Fact]
    public async Task MaxMessageBytes_RefusesALargerMessage_With413NamingTheLimit_AndCommitsNothing()
    {
        string topic = NewTopic();
        await Client.CreateTopicAsync(topic);
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync(topic, """{"maxMessageBytes":120}""")).Status);
        await Client.PublishAsync(topic, "short");

        string large = new('x', 200);
        var (status, error) = await Client.SendAsync(HttpMethod.Post, $"/topics/{topic}", $$"""{"value":"{{large}}"}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("message too large", error.GetProperty("error").GetString());
        Assert.Contains("120", error.GetProperty("cause").GetString());
        Assert.Contains("maxMessageBytes", error.GetProperty("cause").GetString());

        (status, error) = await Client.SendAsync(HttpMethod.Post, $"/topics/{topic}/batch", $$"""[{"value":"a"},{"value":"{{large}}"}]""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Contains("item 1", error.GetProperty("cause").GetString());

        var (_, info) = await Client.SendAsync(HttpMethod.Get, $"/topics/{topic}");
        Assert.Equal(1, info.GetProperty("messages").GetInt64());
    }

    [Fact]
    public async Task PublishRate_OverIt_Is429WithRetryAfter_AndNothingIsCommitted()
    {
        string topic = NewTopic();
        await Client.CreateTopicAsync(topic);
        // One publish per 100 s: the first goes, the next ones are over the rate however slow the machine is.
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync(topic, """{"publishRate":0.01}""")).Status);
        await Client.PublishAsync(topic, "first");

        using var response = await Client.PostAsync($"/topics/{topic}", new StringContent("""{"value":"second"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(100), response.Headers.RetryAfter?.Delta);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("rate limited", error.GetProperty("error").GetString());
        Assert.Contains("publishRate", error.GetProperty("cause").GetString());

        // A batch is refused whole, never in part.
        var (status, _) = await Client.SendAsync(HttpMethod.Post, $"/topics/{topic}/batch", """[{"value":"a"},{"value":"b"}]""");
        Assert.Equal((HttpStatusCode)429, status);
        var (_, info) = await Client.SendAsync(HttpMethod.Get, $"/topics/{topic}");
        Assert.Equal(1, info.GetProperty("messages").GetInt64());

        // Lifted: publishing goes on.
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync(topic, """{"publishRate":null}""")).Status);
        await Client.PublishAsync(topic, "third");
    }

    [Fact]
    public async Task Broadcast_ToATopicOverItsRate_Is429_AndCommitsOnNoTopic()
    {
        string limited = NewTopic(), free = NewTopic();
        await Client.CreateTopicAsync(limited);
        await Client.CreateTopicAsync(free);
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync(limited, """{"publishRate":0.01}""")).Status);
        string body = $$"""{"topics":["{{free}}","{{limited}}"],"value":"v"}""";
        Assert.Equal(HttpStatusCode.Created, (await Client.SendAsync(HttpMethod.Post, "/broadcast", body)).Status);
        var (status, error) = await Client.SendAsync(HttpMethod.Post, "/broadcast", body);
        Assert.Equal((HttpStatusCode)429, status);
        Assert.Contains(limited, error.GetProperty("cause").GetString());
        var (_, info) = await Client.SendAsync(HttpMethod.Get, $"/topics/{free}");
        Assert.Equal(1, info.GetProperty("messages").GetInt64());
    }

    [Fact]
    public async Task Presence_TurnedOnForOneTopic_IsTracked_WhereTheNodesSettingIsOff()
    {
        string topic = NewTopic();
        await Client.CreateTopicAsync(topic);
        var (status, error) = await Client.SendAsync(HttpMethod.Get, $"/topics/{topic}/presence/stats");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("presence off", error.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.OK, (await PatchAsync(topic, """{"presence":true}""")).Status);
        (status, _) = await Client.SendAsync(HttpMethod.Get, $"/topics/{topic}/presence/stats");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task WithAuthOn_OnlyAnAdminChangesSettings()
    {
        await using var server = await ReplServer.StartAsync(null, Tokens.Settings());
        async Task<HttpStatusCode> PatchAsAsync(string token, string topic)
        {
            using var request = new HttpRequestMessage(HttpMethod.Patch, $"/topics/{topic}") { Content = new StringContent("""{"presence":true}""", Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await server.Client.SendAsync(request);
            return response.StatusCode;
        }
        // A publish grant on the topic is not enough: settings change how everyone may use it.
        Assert.Equal(HttpStatusCode.Forbidden, await PatchAsAsync(Tokens.Create(publish: new[] { "demo" }, subscribe: new[] { "demo" }), "demo"));
        Assert.Equal(HttpStatusCode.OK, await PatchAsAsync(Tokens.Create(admin: true), "demo"));
    }
}
