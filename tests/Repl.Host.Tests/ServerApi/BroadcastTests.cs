using System.Net;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;
using Repl.Testing;

namespace Repl.Host.Tests.ServerApi;

/// <summary><c>POST /broadcast</c>: one message to many topics in one commit, all or nothing.</summary>
public sealed class BroadcastTests(ServerApiFixture fixture) : IClassFixture<ServerApiFixture>
{
    private HttpClient Client => fixture.Server.Client;

    [Fact]
    public async Task Broadcast_PublishesToEveryTopic_InOneCommit_WithOneIdPerTopicInOrder()
    {
        await fixture.CreateAsync("bc-a", "bc-b", "bc-c");
        await using var stream = await SseStream.OpenAsync(fixture.Server.BaseAddress, "/sse?topic=bc-a&topic=bc-b&topic=bc-c");

        var (status, body) = await Client.SendAsync(HttpMethod.Post, "/broadcast", """{"topics":["bc-c","bc-a","bc-b"],"value":"hello","headers":{"k":"v"}}""");

        Assert.Equal(HttpStatusCode.Created, status);
        var ids = body.GetProperty("ids").EnumerateArray().Select(id => long.Parse(id.GetString()!)).ToArray();
        Assert.Equal(3, ids.Length);
        // One write: consecutive positions, in the order the topics were named.
        Assert.Equal([ids[0], ids[0] + 1, ids[0] + 2], ids);
        var messages = await stream.MessagesAsync(3);
        Assert.Equal(ids, messages.Select(message => message.Id));
        Assert.Equal(["bc-c", "bc-a", "bc-b"], messages.Select(message => message.Message.GetProperty("topic").GetString()));
        Assert.All(messages, message => Assert.Equal("hello", message.Message.GetProperty("value").GetString()));
        Assert.All(messages, message => Assert.Equal("v", message.Message.GetProperty("headers").GetProperty("k").GetString()));
    }

    [Fact]
    public async Task Broadcast_WithAnUnknownTopic_Is404_AndCommitsNothing()
    {
        await fixture.CreateAsync("bc-known");
        var (status, body) = await Client.SendAsync(HttpMethod.Post, "/broadcast", """{"topics":["bc-known","bc-unknown"],"value":"x"}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("topic not found", body.GetProperty("error").GetString());
        Assert.Contains("bc-unknown", body.GetProperty("cause").GetString());
        Assert.Empty(await fixture.ValuesAsync("bc-known"));
    }

    [Fact]
    public async Task Broadcast_NonStringValue_IsPublishedAsItsJsonText_AsThePublishRouteDoes()
    {
        await fixture.CreateAsync("bc-json");
        var (status, _) = await Client.SendAsync(HttpMethod.Post, "/broadcast", """{"topics":["bc-json"],"value":{"a":1}}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal(["{\"a\":1}"], await fixture.ValuesAsync("bc-json"));
    }

    [Fact]
    public async Task Broadcast_RetriedWithTheSameKey_AnswersTheSameIds_AndCommitsOnce()
    {
        await fixture.CreateAsync("bc-key-a", "bc-key-b");
        const string Body = """{"topics":["bc-key-a","bc-key-b"],"value":"once","idempotencyKey":"broadcast-17"}""";
        var (first, firstBody) = await Client.SendAsync(HttpMethod.Post, "/broadcast", Body);
        var (retry, retryBody) = await Client.SendAsync(HttpMethod.Post, "/broadcast", Body.Replace("once", "twice"));

        Assert.Equal(HttpStatusCode.Created, first);
        Assert.Equal(HttpStatusCode.Created, retry);
        Assert.Equal(firstBody.GetProperty("ids").GetRawText(), retryBody.GetProperty("ids").GetRawText());
        Assert.Equal(["once"], await fixture.ValuesAsync("bc-key-a"));
        Assert.Equal(["once"], await fixture.ValuesAsync("bc-key-b"));
    }

    [Theory]
    [InlineData("""{"topics":[],"value":"x"}""", "no topic")]
    [InlineData("""{"value":"x"}""", "no topic")]
    [InlineData("""{"topics":["bc-bad","bc-bad"],"value":"x"}""", "duplicate topic")]
    [InlineData("""{"topics":["bad name"],"value":"x"}""", "invalid topic name")]
    [InlineData("""{"topics":["$canary"],"value":"x"}""", "invalid topic name")]
    [InlineData("""{"topics":"bc-bad","value":"x"}""", "invalid topics")]
    [InlineData("""{"topics":["bc-bad",7],"value":"x"}""", "invalid topics")]
    [InlineData("""{"topics":["bc-bad"]}""", "missing value")]
    [InlineData("""{"topics":["bc-bad"],"value":"x","headers":{"k":1}}""", "invalid headers")]
    [InlineData("""{"topics":["bc-bad"],"value":"x","idempotencyKey":""}""", "invalid idempotency key")]
    [InlineData("""["bc-bad"]""", "invalid broadcast")]
    [InlineData("""{"topics":["bc-bad"],"value":"x"} trailing""", "malformed JSON")]
    [InlineData("""{"topics":["bc-bad"],"value":""", "malformed JSON")]
    public async Task Broadcast_BadInput_Is400_AndCommitsNothing(string body, string error)
    {
        await fixture.CreateAsync("bc-bad");
        var (status, answer) = await Client.SendAsync(HttpMethod.Post, "/broadcast", body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(error, answer.GetProperty("error").GetString());
        Assert.Empty(await fixture.ValuesAsync("bc-bad"));
    }

    [Fact]
    public async Task Broadcast_OverTheTopicLimit_Is413()
    {
        var topics = JsonSerializer.Serialize(Enumerable.Range(0, 101).Select(i => $"bc-many-{i}"));
        var (status, body) = await Client.SendAsync(HttpMethod.Post, "/broadcast", $$"""{"topics":{{topics}},"value":"x"}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("broadcast too large", body.GetProperty("error").GetString());
        Assert.Contains("Limits:MaxBroadcastTopics", body.GetProperty("cause").GetString());
    }

    [Fact]
    public async Task Broadcast_OverOneLogWrite_Is413_AndCommitsNothing()
    {
        await fixture.CreateAsync("bc-big-a", "bc-big-b");
        // Under the body limit (1 MiB), but twice that in the log: one write holds 1 MiB.
        string value = new('x', 600 * 1024);
        var (status, body) = await Client.SendAsync(HttpMethod.Post, "/broadcast", $$"""{"topics":["bc-big-a","bc-big-b"],"value":"{{value}}"}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("broadcast too large", body.GetProperty("error").GetString());
        Assert.Empty(await fixture.ValuesAsync("bc-big-a"));
    }
}
