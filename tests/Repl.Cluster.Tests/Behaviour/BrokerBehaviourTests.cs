using System.Net;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests.Behaviour;

/// <summary>
/// What a client sees, whatever the mode: run against one standalone node and against a cluster (publishing on
/// one node, subscribing on another).
/// </summary>
public abstract class BrokerBehaviourTests
{
    /// <summary>Where messages are published and topics created.</summary>
    protected abstract HttpClient Publisher { get; }

    /// <summary>Where streams are opened (another node in cluster mode).</summary>
    protected abstract ReplNodeProcess SubscriberNode { get; }

    private static string NewTopic() => "b-" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>The subscriber's node applies the create before the test subscribes there.</summary>
    private async Task<string> CreateTopicAsync()
    {
        var topic = NewTopic();
        await Publisher.CreateTopicAsync(topic);
        await WaitForTopicAsync(SubscriberNode.Client, topic);
        return topic;
    }

    protected static async Task WaitForTopicAsync(HttpClient client, string topic)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await client.GetAsync($"/topics/{topic}")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, $"topic {topic} never appeared on {client.BaseAddress}");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task CreateTopic_Twice_Returns409()
    {
        var topic = await CreateTopicAsync();

        var (status, body) = await SubscriberNode.Client.SendAsync(HttpMethod.Post, "/topics", $"{{\"name\":\"{topic}\"}}");

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("topic exists", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Publish_UnknownTopic_Returns404()
    {
        var (status, _) = await Publisher.SendAsync(HttpMethod.Post, "/topics/" + NewTopic(), "{\"value\":\"x\"}");

        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public async Task Publish_ReachesSubscriber_InPublishOrder()
    {
        var topic = await CreateTopicAsync();
        await using var stream = await SseStream.OpenAsync(SubscriberNode.BaseAddress, $"/topics/{topic}/sse");

        var ids = new List<long>();
        for (int i = 0; i < 20; i++) ids.Add(await Publisher.PublishAsync(topic, $"m{i}"));
        var received = await stream.MessagesAsync(20);

        Assert.Equal(ids, received.Select(m => m.Id));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), received.Select(m => m.Message.GetProperty("value").GetString()));
        Assert.True(ids.Zip(ids.Skip(1)).All(pair => pair.First < pair.Second), "ids increase along the log");
    }

    [Fact]
    public async Task OpenMeansSubscribed_AMessagePublishedOnceTheHeadArrived_IsDelivered()
    {
        // In cluster mode the stream's node may apply the message after the publisher's node acknowledged it: the
        // stream's start, fixed before its head, is still below it.
        var topic = await CreateTopicAsync();
        for (int round = 0; round < 10; round++)
        {
            await using var stream = await SseStream.OpenAsync(SubscriberNode.BaseAddress, $"/topics/{topic}/sse");
            long id = await Publisher.PublishAsync(topic, $"round {round}");
            Assert.Equal([id], (await stream.MessagesAsync(1, TimeSpan.FromSeconds(20))).Select(m => m.Id));
        }
    }

    [Fact]
    public async Task Resume_WithLastEventId_ReplaysExactlyWhatWasMissed()
    {
        var topic = await CreateTopicAsync();
        var ids = new List<long>();
        for (int i = 0; i < 10; i++) ids.Add(await Publisher.PublishAsync(topic, $"m{i}"));

        await using var stream = await SseStream.OpenAsync(SubscriberNode.BaseAddress, $"/topics/{topic}/sse", lastEventId: ids[3].ToString());
        var replayed = await stream.MessagesAsync(6);

        Assert.Equal(ids[4..], replayed.Select(m => m.Id));
    }

    [Fact]
    public async Task Health_SaysMode()
    {
        var (status, body) = await SubscriberNode.Client.SendAsync(HttpMethod.Get, "/health");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(SubscriberNode.Etcd is null ? "standalone" : "cluster", body.GetProperty("mode").GetString());
    }
}

/// <summary>One standalone node (no etcd).</summary>
public sealed class StandaloneNodeFixture : IAsyncLifetime
{
    public ReplNodeProcess Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await ReplNodeProcess.StartAsync("solo", etcd: null);

    public async Task DisposeAsync() => await Node.DisposeAsync();
}

public sealed class StandaloneBehaviourTests(StandaloneNodeFixture fixture) : BrokerBehaviourTests, IClassFixture<StandaloneNodeFixture>
{
    protected override HttpClient Publisher => fixture.Node.Client;

    protected override ReplNodeProcess SubscriberNode => fixture.Node;
}

[Collection(ReplClusterCollection.Name)]
public sealed class ClusterBehaviourTests(ReplClusterFixture cluster) : BrokerBehaviourTests
{
    protected override HttpClient Publisher => cluster.Nodes[0].Client;

    protected override ReplNodeProcess SubscriberNode => cluster.Nodes[1];
}
