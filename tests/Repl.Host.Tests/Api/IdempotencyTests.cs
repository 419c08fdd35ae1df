using System.Net;
using System.Text;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;
using Repl.Testing;

namespace Repl.Host.Tests.Api;

/// <summary>A publish retried with the same <c>Idempotency-Key</c> is committed once and answered as the first time.</summary>
public sealed class IdempotencyTests
{
    [Fact]
    public async Task Publish_RetriedWithTheSameKey_ReturnsTheFirstAnswer_AndCommitsOnce()
    {
        await using var server = await ReplServer.StartAsync();
        var first = await PublishAsync(server.Client, "demo", "once", "order-17");
        var retry = await PublishAsync(server.Client, "demo", "once, again", "order-17");

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.Created, retry.Status);
        Assert.Equal(first.Data.GetRawText(), retry.Data.GetRawText()); // same id, value and createdAt
        Assert.Equal(["once"], await ValuesAsync(server, "demo"));
    }

    [Fact]
    public async Task KeyedPublish_FirstAnswersWithItsOwnMessage_ARetryWithTheFirst_AsStored()
    {
        await using var server = await ReplServer.StartAsync();
        var first = await PublishJsonAsync(server.Client, "demo", """{"value":"first ç","headers":{"h":"1","user":"ana"}}""", "order-18");
        var retry = await PublishJsonAsync(server.Client, "demo", """{"value":"second","headers":{"h":"2"}}""", "order-18");

        Assert.Equal("first ç", first.GetProperty("value").GetString());
        Assert.Equal("1", first.GetProperty("headers").GetProperty("h").GetString());
        Assert.Equal("ana", first.GetProperty("headers").GetProperty("user").GetString());
        // The retry gets the first message, not its own: same id, value, headers and createdAt.
        Assert.Equal(first.GetRawText(), retry.GetRawText());
        // Both answers are the stored message, byte for byte.
        var (_, history) = await server.Client.SendAsync(HttpMethod.Get, "/topics/demo/messages?after=0&limit=100");
        Assert.Equal(first.GetRawText(), Assert.Single(history.GetProperty("messages").EnumerateArray()).GetRawText());
    }

    [Fact]
    public async Task Keys_AreAPerTopicMatter_AndDifferentKeysCommitTwice()
    {
        await using var server = await ReplServer.StartAsync();
        await server.Client.CreateTopicAsync("other");
        var a = await PublishAsync(server.Client, "demo", "a", "k1");
        var b = await PublishAsync(server.Client, "demo", "b", "k2");
        var c = await PublishAsync(server.Client, "other", "c", "k1");

        Assert.NotEqual(a.Id, b.Id);
        Assert.NotEqual(a.Id, c.Id);
        Assert.Equal(["a", "b"], await ValuesAsync(server, "demo"));
        Assert.Equal(["c"], await ValuesAsync(server, "other"));
    }

    [Fact]
    public async Task Key_SurvivesARestart()
    {
        string dataDir;
        long id;
        await using (var server = await ReplServer.StartAsync(TempDir.Create()))
        {
            dataDir = server.DataDir;
            id = (await PublishAsync(server.Client, "demo", "before", "restart-key")).Id;
            await server.StopAsync();
        }
        await using var restarted = await ReplServer.StartAsync(dataDir);
        var retry = await PublishAsync(restarted.Client, "demo", "after", "restart-key");
        Assert.Equal(id, retry.Id);
        Assert.Equal(["before"], await ValuesAsync(restarted, "demo"));
    }

    [Fact]
    public async Task BatchPublish_TakesAKeyPerMessage_AndCommitsEachKeyOnce()
    {
        await using var server = await ReplServer.StartAsync();
        var single = await PublishAsync(server.Client, "demo", "x", "x-key");
        var (status, body) = await server.Client.SendAsync(HttpMethod.Post, "/topics/demo/batch",
            """[{"value":"x again","idempotencyKey":"x-key"},{"value":"y","idempotencyKey":"y-key"},{"value":"y twice","idempotencyKey":"y-key"},{"value":"z"}]""");

        Assert.Equal(HttpStatusCode.Created, status);
        var data = body.GetProperty("data").EnumerateArray().ToArray();
        var ids = data.Select(m => long.Parse(m.GetProperty("id").GetString()!)).ToArray();
        Assert.Equal(single.Id, ids[0]);
        Assert.Equal(ids[1], ids[2]);
        // Each retry is answered with the message its key committed first: "x" from before, "y" from earlier in this batch.
        Assert.Equal(single.Data.GetRawText(), data[0].GetRawText());
        Assert.Equal(data[1].GetRawText(), data[2].GetRawText());
        Assert.Equal(["x", "y", "y", "z"], data.Select(m => m.GetProperty("value").GetString()));
        Assert.Equal(["x", "y", "z"], await ValuesAsync(server, "demo"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("tab\tinside")]
    public async Task InvalidKey_Is400(string key)
    {
        await using var server = await ReplServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/topics/demo") { Content = new StringContent("""{"value":"v"}""", Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid idempotency key", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task TooLongKey_InABatch_Is400()
    {
        await using var server = await ReplServer.StartAsync();
        var (status, _) = await server.Client.SendAsync(HttpMethod.Post, "/topics/demo/batch", $$"""[{"value":"v","idempotencyKey":"{{new string('k', 201)}}"}]""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    private static async Task<(HttpStatusCode Status, long Id, JsonElement Data)> PublishAsync(HttpClient client, string topic, string value, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { value }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await client.SendAsync(request);
        var data = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("data").Clone();
        return (response.StatusCode, long.Parse(data.GetProperty("id").GetString()!), data);
    }

    /// <summary>Publishes <paramref name="json"/> as it is, with <paramref name="key"/>; returns the answer's message.</summary>
    private static async Task<JsonElement> PublishJsonAsync(HttpClient client, string topic, string json, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("data").Clone();
    }

    private static async Task<string[]> ValuesAsync(ReplServer server, string topic)
    {
        var (_, body) = await server.Client.SendAsync(HttpMethod.Get, $"/topics/{topic}/messages?after=0&limit=100");
        return [.. body.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("value").GetString()!)];
    }
}
