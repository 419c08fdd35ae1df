using System.Net;
using System.Text;
using System.Text.Json;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests.Broker;

/// <summary>The log's identity and idempotency keys hold across the nodes of a cluster (real etcd and node processes).</summary>
[Collection(ReplClusterCollection.Name)]
public sealed class ClusterResumeTests(ReplClusterFixture cluster) : IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => cluster.HealAsync();

    [Fact]
    public async Task EveryNode_FramesTheSameEpoch_AndAnIdFromOneResumesExactlyOnAnother()
    {
        var topic = "r-" + Guid.NewGuid().ToString("N")[..10];
        await cluster.Nodes[0].Client.CreateTopicAsync(topic);
        var epochs = new List<string>();
        foreach (var node in cluster.Nodes)
        {
            await using var stream = await OpenWhenThereAsync(node, topic, null);
            epochs.Add(JsonDocument.Parse((await stream.Connected).Data).RootElement.GetProperty("epoch").GetString()!);
        }
        Assert.Single(epochs.Distinct());

        string lastId;
        await using (var onFirst = await OpenWhenThereAsync(cluster.Nodes[0], topic, null))
        {
            await cluster.Nodes[0].Client.PublishAsync(topic, "a");
            lastId = (await onFirst.NextNonPingAsync(TimeSpan.FromSeconds(20))).Id!;
            Assert.EndsWith("@" + epochs[0], lastId);
        }
        long b = await cluster.Nodes[1].Client.PublishAsync(topic, "b");
        await using var onThird = await OpenWhenThereAsync(cluster.Nodes[2], topic, lastId);
        Assert.Equal([b], (await onThird.MessagesAsync(1, TimeSpan.FromSeconds(20))).Select(m => m.Id));
    }

    [Fact]
    public async Task APublishRetriedOnAnotherNode_WithTheSameKey_IsCommittedOnce_AndAnsweredTheSame()
    {
        var topic = "k-" + Guid.NewGuid().ToString("N")[..10];
        await cluster.Nodes[0].Client.CreateTopicAsync(topic);
        await using var stream = await OpenWhenThereAsync(cluster.Nodes[2], topic, null);

        var first = await PublishAsync(cluster.Nodes[0], topic, "paid", "order-17");
        var retry = await PublishAsync(cluster.Nodes[1], topic, "paid (retry)", "order-17");
        long next = await cluster.Nodes[1].Client.PublishAsync(topic, "after");

        Assert.Equal(first.GetProperty("id").GetString(), retry.GetProperty("id").GetString());
        Assert.Equal("paid", retry.GetProperty("value").GetString());
        var delivered = await stream.MessagesAsync(2, TimeSpan.FromSeconds(20));
        Assert.Equal([long.Parse(first.GetProperty("id").GetString()!), next], delivered.Select(m => m.Id));
    }

    private static async Task<JsonElement> PublishAsync(ReplNodeProcess node, string topic, string value, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { value }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", key);
        using var response = await node.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("data").Clone();
    }

    /// <summary>Opens a stream once the topic has reached the node (each node applies etcd's log on its own).</summary>
    private static async Task<SseStream> OpenWhenThereAsync(ReplNodeProcess node, string topic, string? lastEventId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while ((await node.Client.GetAsync($"/topics/{topic}")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, $"topic {topic} never appeared on {node.Id}");
            await Task.Delay(20);
        }
        return await SseStream.OpenAsync(node.BaseAddress, $"/topics/{topic}/sse", lastEventId);
    }
}
