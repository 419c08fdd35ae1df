using System.Net;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Api;

/// <summary>The REPL routes, exactly as REPL's clients use them, and the routes Repl adds.</summary>
public sealed class TopicApiTests : IAsyncLifetime
{
    private ReplServer _server = null!;

    private HttpClient Client => _server.Client;

    public async Task InitializeAsync() => _server = await ReplServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Demo_ExistsAtStart()
    {
        var (status, body) = await Client.SendAsync(HttpMethod.Get, "/topics");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["demo"], body.EnumerateArray().Select(name => name.GetString()));
    }

    [Fact]
    public async Task CreateTopic_Returns201_ThenListsIt_AndADuplicateIs409()
    {
        var (status, body) = await Client.SendAsync(HttpMethod.Post, "/topics", """{"name":"comments:1"}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("topic created", body.GetProperty("message").GetString());

        var (_, topics) = await Client.SendAsync(HttpMethod.Get, "/topics");
        Assert.Contains("comments:1", topics.EnumerateArray().Select(name => name.GetString()));

        var (duplicate, error) = await Client.SendAsync(HttpMethod.Post, "/topics", """{"name":"comments:1"}""");
        Assert.Equal(HttpStatusCode.Conflict, duplicate);
        Assert.Equal("topic exists", error.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Publish_Returns201_WithTheMessage()
    {
        var (status, body) = await Client.SendAsync(HttpMethod.Post, "/topics/demo", """{"value":"hello","headers":{"user":"ana"}}""");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("message published", body.GetProperty("message").GetString());
        var data = body.GetProperty("data");
        Assert.True(long.Parse(data.GetProperty("id").GetString()!) > 0);
        Assert.Equal("hello", data.GetProperty("value").GetString());
        Assert.Equal("ana", data.GetProperty("headers").GetProperty("user").GetString());
        Assert.True(data.GetProperty("createdAt").TryGetDateTimeOffset(out _));
    }

    [Fact]
    public async Task TopicInfo_CountsMessagesAndSubscribers()
    {
        long first = await Client.PublishAsync("demo", "a");
        long last = await Client.PublishAsync("demo", "b");
        await using var stream = await SseStream.OpenAsync(_server.BaseAddress, "/topics/demo/sse");
        // The count is the node's running graphs: a stream's graph starts just after its head (its start position was
        // fixed before the head, so nothing is missed meanwhile), and its `connected` event says it has.
        await stream.Connected;
        var (status, info) = await Client.SendAsync(HttpMethod.Get, "/topics/demo");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, info.GetProperty("messages").GetInt64());
        Assert.Equal(first, info.GetProperty("firstPosition").GetInt64());
        Assert.Equal(last, info.GetProperty("lastPosition").GetInt64());
        Assert.Equal(1, info.GetProperty("subscribers").GetInt32());
    }

    [Fact]
    public async Task History_PagesAfterAPosition()
    {
        var ids = new List<long>();
        for (int i = 0; i < 5; i++) ids.Add(await Client.PublishAsync("demo", $"m{i}"));
        var (status, page) = await Client.SendAsync(HttpMethod.Get, $"/topics/demo/messages?after={ids[1]}&limit=2");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["m2", "m3"], page.GetProperty("messages").EnumerateArray().Select(message => message.GetProperty("value").GetString()));
        Assert.Equal(ids[0], page.GetProperty("oldest").GetInt64());
    }

    [Fact]
    public async Task BatchPublish_IsOneCommit_WithIdsInOrder()
    {
        var (status, body) = await Client.SendAsync(HttpMethod.Post, "/topics/demo/batch", """[{"value":"1"},{"value":"2","headers":{"k":"v"}},{"value":"3"}]""");
        Assert.Equal(HttpStatusCode.Created, status);
        var ids = body.GetProperty("data").EnumerateArray().Select(message => long.Parse(message.GetProperty("id").GetString()!)).ToArray();
        Assert.Equal(3, ids.Length);
        Assert.Equal(ids[0] + 1, ids[1]);
        Assert.Equal(ids[1] + 1, ids[2]);
    }

    [Fact]
    public async Task DeleteTopic_EndsItsStreams_WithADeletedEvent()
    {
        await Client.CreateTopicAsync("doomed");
        await using var stream = await SseStream.OpenAsync(_server.BaseAddress, "/topics/doomed/sse");
        var (status, _) = await Client.SendAsync(HttpMethod.Delete, "/topics/doomed");
        Assert.Equal(HttpStatusCode.OK, status);
        var deleted = await stream.NextNonPingAsync();
        Assert.Equal("deleted", deleted.Type);
        Assert.Equal("doomed", JsonDocument.Parse(deleted.Data).RootElement.GetProperty("topic").GetString());
        Assert.True(await stream.EndedAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(HttpStatusCode.NotFound, (await Client.SendAsync(HttpMethod.Get, "/topics/doomed/sse")).Status);
    }

    [Fact]
    public async Task Health_SaysUp()
    {
        var (status, body) = await Client.SendAsync(HttpMethod.Get, "/health");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("up", body.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Client.SendAsync(HttpMethod.Get, "/healthz")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Client.SendAsync(HttpMethod.Get, "/readyz")).Status);
    }

    [Fact]
    public async Task Health_CountsOnlyTheUsersTopics()
    {
        // Its own node: the shared one's topic count moves with the other tests.
        await using var server = await ReplServer.StartAsync();
        Assert.Equal(1, (await server.Client.SendAsync(HttpMethod.Get, "/health")).Body.GetProperty("topics").GetInt32()); // demo
        await server.Client.CreateTopicAsync("mine");
        Assert.Equal(2, (await server.Client.SendAsync(HttpMethod.Get, "/health")).Body.GetProperty("topics").GetInt32());
    }

    [Fact]
    public async Task ManyConcurrentPublishers_KeepPerTopicOrder_ForEverySubscriber()
    {
        await Client.CreateTopicAsync("a");
        await Client.CreateTopicAsync("b");
        await using var onA = await SseStream.OpenAsync(_server.BaseAddress, "/topics/a/sse");
        await using var onBoth = await SseStream.OpenAsync(_server.BaseAddress, "/sse?topic=a&topic=b");
        const int publishers = 8, each = 50;
        var sent = await Task.WhenAll(Enumerable.Range(0, publishers).Select(async publisher =>
        {
            var ids = new List<long>();
            for (int i = 0; i < each; i++) ids.Add(await Client.PublishAsync(publisher % 2 == 0 ? "a" : "b", $"{publisher}:{i}"));
            return ids;
        }));
        // Each publisher's acknowledged ids increase: the log kept its order.
        Assert.All(sent, ids => Assert.Equal(ids.Order(), ids));

        var both = await onBoth.MessagesAsync(publishers * each);
        Assert.Equal(both.Select(m => m.Id).Order(), both.Select(m => m.Id));
        Assert.Equal(publishers * each, both.Select(m => m.Id).Distinct().Count());
        var onlyA = await onA.MessagesAsync(publishers / 2 * each);
        Assert.Equal(both.Where(m => m.Message.GetProperty("topic").GetString() == "a").Select(m => m.Id), onlyA.Select(m => m.Id));
        foreach (var publisher in Enumerable.Range(0, publishers))
        {
            var mine = both.Select(m => m.Message.GetProperty("value").GetString()!).Where(v => v.StartsWith($"{publisher}:")).ToList();
            Assert.Equal(Enumerable.Range(0, each).Select(i => $"{publisher}:{i}"), mine);
        }
    }
}
