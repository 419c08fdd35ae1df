using System.Collections.Concurrent;
using System.Net;
using Repl.Actors.Etcd;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests.Broker;

/// <summary>
/// Three Repl nodes over three etcd members, real processes, with crashes of both. <see cref="N1"/> is the node that runs
/// the sequencer: the brokers these tests kill (<see cref="N3"/>) are not it (see <c>AkkaClusterTests</c> and
/// <c>SequencerHandoverTests</c> for that).
/// </summary>
[Collection(ReplClusterCollection.Name)]
public sealed class ClusterNodeTests(ReplClusterFixture cluster) : IAsyncLifetime
{
    private ReplNodeProcess[] _nodes = [];

    private ReplNodeProcess N1 => _nodes[0];

    private ReplNodeProcess N2 => _nodes[1];

    private ReplNodeProcess N3 => _nodes[2];

    public async Task InitializeAsync() => _nodes = [.. await cluster.SequencerFirstAsync()];

    // Whatever a test killed comes back before the next test.
    public Task DisposeAsync() => cluster.HealAsync();

    private async Task<string> CreateTopicEverywhereAsync()
    {
        var topic = "c-" + Guid.NewGuid().ToString("N")[..10];
        await cluster.CreateTopicAsync(N1, topic, TimeSpan.FromSeconds(30));
        foreach (var node in cluster.Nodes.Where(node => node.IsRunning))
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while ((await node.Client.GetAsync($"/topics/{topic}")).StatusCode != HttpStatusCode.OK)
            {
                Assert.True(DateTime.UtcNow < deadline, $"topic {topic} never appeared on {node.Id}");
                await Task.Delay(20);
            }
        }
        return topic;
    }

    [Fact]
    public async Task TopicSettings_PatchedOnOneNode_AreAppliedOnEveryNode_AndTheRateHoldsClusterWide()
    {
        string topic = await CreateTopicEverywhereAsync();
        // Through a node that does not run the sequencer: its entity forwards the change, the log brings it to every node.
        const string settings = """{"retention":{"maxMessages":null,"maxAge":null},"maxMessageBytes":100,"publishRate":0.01,"presence":true}""";
        var (status, changed) = await N3.Client.SendAsync(HttpMethod.Patch, $"/topics/{topic}", """{"maxMessageBytes":100,"publishRate":0.01,"presence":true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(settings, changed.GetProperty("settings").GetRawText());
        foreach (var node in _nodes)
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while ((await node.Client.SendAsync(HttpMethod.Get, $"/topics/{topic}")).Body.GetProperty("settings").GetRawText() != settings)
            {
                Assert.True(DateTime.UtcNow < deadline, $"the settings of {topic} never reached {node.Id}");
                await Task.Delay(20);
            }
        }
        // One publish per 100 s for the whole cluster: the first, on one node, takes it; the next, on another, is refused.
        await N2.Client.PublishAsync(topic, "first");
        var (refused, error) = await N1.Client.SendAsync(HttpMethod.Post, $"/topics/{topic}", """{"value":"second"}""");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused);
        Assert.Contains("publishRate", error.GetProperty("cause").GetString());
        var (tooLarge, _) = await N3.Client.SendAsync(HttpMethod.Post, $"/topics/{topic}", $$"""{"value":"{{new string('x', 200)}}"}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge);
    }

    [Fact]
    public async Task ConcurrentPublishing_OnAllNodes_EveryNodeDeliversEveryTopicInTheSameOrder()
    {
        string[] topics = [await CreateTopicEverywhereAsync(), await CreateTopicEverywhereAsync()];
        var streams = new List<(string Topic, ReplNodeProcess Node, SseStream Stream)>();
        foreach (var topic in topics)
        {
            foreach (var node in cluster.Nodes) streams.Add((topic, node, await SseStream.OpenAsync(node.BaseAddress, $"/topics/{topic}/sse")));
        }
        const int perPublisher = 25;
        var acked = new ConcurrentDictionary<string, ConcurrentBag<long>>();
        // 3 nodes × 2 topics × 3 concurrent publishers.
        await Task.WhenAll(
            from node in cluster.Nodes
            from topic in topics
            from publisher in Enumerable.Range(0, 3)
            select Task.Run(async () =>
            {
                for (int i = 0; i < perPublisher; i++)
                {
                    acked.GetOrAdd(topic, _ => []).Add(await node.Client.PublishAsync(topic, $"{node.Id}-{publisher}-{i}"));
                }
            }));

        int perTopic = 3 * 3 * perPublisher;
        foreach (var topic in topics)
        {
            var orders = new List<long[]>();
            foreach (var (_, node, stream) in streams.Where(s => s.Topic == topic))
            {
                orders.Add([.. (await stream.MessagesAsync(perTopic, TimeSpan.FromSeconds(20))).Select(m => m.Id)]);
            }
            Assert.All(orders, order => Assert.Equal(orders[0], order));
            Assert.Equal(acked[topic].Order(), orders[0]);
        }
        foreach (var (_, _, stream) in streams) await stream.DisposeAsync();
    }

    [Fact]
    public async Task ClusterView_ListsEveryNodeWithLag_AndEtcdWithItsLeader()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var (status, view) = await N2.Client.SendAsync(HttpMethod.Get, "/cluster");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("cluster", view.GetProperty("mode").GetString());
            var members = view.GetProperty("members").EnumerateArray().ToList();
            var etcd = view.GetProperty("etcd");
            if (members.Count == 3)
            {
                Assert.Equal(["n1", "n2", "n3"], members.Select(m => m.GetProperty("id").GetString()).Order());
                Assert.All(members, m => Assert.StartsWith("http://127.0.0.1:", m.GetProperty("url").GetString()));
                Assert.Single(members, m => m.GetProperty("self").GetBoolean());
                Assert.All(members, m => Assert.True(m.GetProperty("lag").GetInt64() >= 0));
                Assert.Equal(3, etcd.GetProperty("members").GetArrayLength());
                Assert.False(string.IsNullOrEmpty(etcd.GetProperty("leader").GetString()));
                Assert.Single(etcd.GetProperty("endpoints").EnumerateArray(), e => e.GetProperty("leader").GetBoolean());
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"expected 3 members, saw {members.Count}");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task PublishOnOneNode_SubscribersOnTheOthers_ReceiveIt()
    {
        var topic = await CreateTopicEverywhereAsync();
        await using var onN2 = await SseStream.OpenAsync(N2.BaseAddress, $"/topics/{topic}/sse");
        await using var onN3 = await SseStream.OpenAsync(N3.BaseAddress, $"/topics/{topic}/sse");

        long id = await N1.Client.PublishAsync(topic, "hello");

        Assert.Equal(id, (await onN2.MessagesAsync(1))[0].Id);
        Assert.Equal("hello", (await onN3.MessagesAsync(1))[0].Message.GetProperty("value").GetString());
    }

    [Fact]
    public async Task BrokerNodeKilled_SubscriberResumesOnAnotherNode_ReceivesEveryAckedMessageExactlyOnce()
    {
        var topic = await CreateTopicEverywhereAsync();
        var stream = await SseStream.OpenAsync(N3.BaseAddress, $"/topics/{topic}/sse");
        var acked = new ConcurrentBag<long>();
        using var stopPublishing = new CancellationTokenSource();
        var publisher = Task.Run(async () =>
        {
            for (int i = 0; i < 150 && !stopPublishing.IsCancellationRequested; i++)
            {
                acked.Add(await N1.Client.PublishAsync(topic, $"m{i}"));
                await Task.Delay(5);
            }
        });

        var received = new List<long>();
        bool killed = false;
        try
        {
            while (true)
            {
                if (publisher.IsCompleted && received.Count == acked.Count) break;
                if (!killed && received.Count >= 50)
                {
                    N3.Kill();
                    killed = true;
                }
                Repl.Sse.SseEvent item;
                try
                {
                    item = await stream.NextNonPingAsync(TimeSpan.FromSeconds(10));
                }
                catch (Exception) when (killed)
                {
                    // The node is gone: reconnect elsewhere, as EventSource does, with the last id seen.
                    await stream.DisposeAsync();
                    stream = await SseStream.OpenAsync(N2.BaseAddress, $"/topics/{topic}/sse", lastEventId: received[^1].ToString());
                    continue;
                }
                Assert.Equal("message", item.Type);
                received.Add(SseStream.Position(item.Id!));
            }
        }
        finally
        {
            await stopPublishing.CancelAsync();
            await stream.DisposeAsync();
        }
        await publisher;

        Assert.True(killed);
        Assert.Equal(acked.Order(), received);
    }

    [Fact]
    public async Task RestartedNode_CatchesUpFromEtcdAndItsJournal()
    {
        var topic = await CreateTopicEverywhereAsync();
        var acked = new List<long>();
        for (int i = 0; i < 20; i++) acked.Add(await N1.Client.PublishAsync(topic, $"before-{i}"));
        await WaitAppliedAsync(N3, acked[^1]);

        N3.Kill();
        for (int i = 0; i < 50; i++) acked.Add(await N2.Client.PublishAsync(topic, $"while-down-{i}"));
        await N3.RestartAsync();

        await using var stream = await SseStream.OpenAsync(N3.BaseAddress, $"/topics/{topic}/sse", lastEventId: "0");
        var replay = await stream.MessagesAsync(acked.Count);
        Assert.Equal(acked, replay.Select(m => m.Id));
    }

    [Fact]
    public async Task EtcdLeaderKilled_PublishingResumesAfterElection_NothingAckedIsLost()
    {
        var topic = await CreateTopicEverywhereAsync();
        var acked = new ConcurrentBag<long>();
        var ackedAfterKill = 0;
        var killedAt = DateTime.MaxValue;
        using var stop = new CancellationTokenSource();
        var publishers = cluster.Nodes.Take(2).Select(node => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (status, id, _) = await node.Client.TryPublishAsync(topic, "x");
                if (status == HttpStatusCode.Created)
                {
                    acked.Add(id);
                    if (DateTime.UtcNow > killedAt) Interlocked.Increment(ref ackedAfterKill);
                }
                else
                {
                    Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
                }
                await Task.Delay(10);
            }
        })).ToArray();

        await Task.Delay(1000);
        int leader = await cluster.Etcd.LeaderIndexAsync();
        killedAt = DateTime.UtcNow;
        await cluster.Etcd.KillAsync(leader);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (Volatile.Read(ref ackedAfterKill) < 50 && DateTime.UtcNow < deadline) await Task.Delay(100);
        await stop.CancelAsync();
        await Task.WhenAll(publishers);
        Assert.True(ackedAfterKill >= 50, $"publishing did not resume after the etcd leader was killed ({ackedAfterKill} acked since)");

        await using var stream = await SseStream.OpenAsync(N3.BaseAddress, $"/topics/{topic}/sse", lastEventId: "0");
        var seen = new List<long>();
        var missing = acked.ToHashSet();
        while (missing.Count > 0)
        {
            var (id, _) = (await stream.MessagesAsync(1, TimeSpan.FromSeconds(15)))[0];
            seen.Add(id);
            missing.Remove(id);
        }
        // A publish answered 503 may still have committed; it then shows up once, in order, like any other.
        Assert.Equal(seen.Distinct().Order(), seen);
    }

    [Fact]
    public async Task EtcdFollowerKilled_IdleStreamsStayOpen_AndDeliver()
    {
        // Each node's watch is on a member of the channel's choosing: killing both followers in turn kills some
        // node's (most likely). Idle past UnavailableAfter first: a broken watch must not count the idle time as down.
        var topic = await CreateTopicEverywhereAsync();
        var streams = new List<SseStream>();
        try
        {
            foreach (var node in cluster.Nodes) streams.Add(await SseStream.OpenAsync(node.BaseAddress, $"/topics/{topic}/sse"));
            var killed = new List<int>();
            for (int round = 0; round < 2; round++)
            {
                await Task.Delay(TimeSpan.FromSeconds(4));
                // A follower at the time of the kill: etcd's leader can move meanwhile (on a loaded machine a follower
                // misses heartbeats and calls an election), and killing the leader is another test.
                int leader = await cluster.Etcd.LeaderIndexAsync();
                int[] followers = [.. Enumerable.Range(0, 3).Where(i => i != leader)];
                int follower = followers.FirstOrDefault(i => !killed.Contains(i), followers[0]);
                killed.Add(follower);
                await cluster.Etcd.KillAsync(follower);
                await Task.Delay(TimeSpan.FromSeconds(1));
                long id = await N1.Client.PublishAsync(topic, $"without n{follower}");
                // The next event is the message, not "unavailable".
                for (int i = 0; i < streams.Count; i++)
                {
                    var next = await streams[i].NextNonPingAsync(TimeSpan.FromSeconds(15));
                    Assert.True(next is { Type: "message", Id: { } got } && SseStream.Position(got) == id,
                        $"without etcd member {follower}, {cluster.Nodes[i].Id}'s stream got {next.Type} {next.Id} {next.Data} instead of message {id}:\n{cluster.Nodes[i].OutputTail}");
                }
                await cluster.Etcd.RestartAsync(follower);
            }
        }
        finally
        {
            foreach (var stream in streams) await stream.DisposeAsync();
        }
    }

    [Fact]
    public async Task EtcdQuorumLost_Publishes503AndNotReady_StreamsToldUnavailable_AllRecovers()
    {
        var topic = await CreateTopicEverywhereAsync();
        await using var stream = await SseStream.OpenAsync(N2.BaseAddress, $"/topics/{topic}/sse");

        await Task.WhenAll(cluster.Etcd.KillAsync(0), cluster.Etcd.KillAsync(1));

        var (status, _, body) = await N1.Client.TryPublishAsync(topic, "lost?");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        // Refused before it was sent, or sent to an etcd without quorum, which may still commit it once its quorum is back.
        Assert.True(body.Contains("log unavailable") || body.Contains("outcome unknown"), body);
        using (var ready = await N1.Client.GetAsync("/readyz")) Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var closing = await stream.NextNonPingAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("unavailable", closing.Type);
        Assert.Contains("reason", closing.Data);

        await cluster.Etcd.RestartAsync(0, 1);
        await Task.WhenAll(cluster.Nodes.Select(node => node.WaitReadyAsync(TimeSpan.FromSeconds(60))));
        Assert.All(cluster.Nodes, node => Assert.True(node.IsRunning));
        // Ready, but the sequencer may still be settling the write whose outcome the quorum loss left unknown: a first
        // publish can wait past its deadline (503, not committed). A client retries it with its key, as the error says.
        long id = await N1.Client.PublishRetryingAsync(topic, "back", idempotencyKey: "back", attempts: 10);
        await using var again = await SseStream.OpenAsync(N2.BaseAddress, $"/topics/{topic}/sse", lastEventId: (id - 1).ToString());
        Assert.Equal(id, (await again.MessagesAsync(1, TimeSpan.FromSeconds(15)))[0].Id);
    }

    [Fact]
    public async Task NodeDownPastCompaction_ResynchronisesAndResumingStreamGetsGap()
    {
        var topic = await CreateTopicEverywhereAsync();
        var before = new List<long>();
        for (int i = 0; i < 5; i++) before.Add(await N1.Client.PublishAsync(topic, $"before-{i}"));
        await WaitAppliedAsync(N3, before[^1]);
        N3.Kill();
        for (int i = 0; i < 5; i++) await N1.Client.PublishAsync(topic, $"lost-on-n3-{i}");
        using (var etcd = cluster.Etcd.CreateClient())
        {
            var now = await etcd.Client.GetAsync(new Etcdserverpb.RangeRequest { Key = EtcdConnection.Key("/repl/log"), KeysOnly = true }, deadline: etcd.Deadline());
            await etcd.Client.CompactAsync(new Etcdserverpb.CompactionRequest { Revision = now.Header.Revision }, deadline: etcd.Deadline());
        }

        await N3.RestartAsync();
        await using var stream = await SseStream.OpenAsync(N3.BaseAddress, $"/topics/{topic}/sse", lastEventId: before[^1].ToString());
        var gap = await stream.NextNonPingAsync();
        Assert.Equal("gap", gap.Type);
        long after = await N1.Client.PublishAsync(topic, "after");
        Assert.Equal(after, (await stream.MessagesAsync(1))[0].Id);
    }

    private static async Task WaitAppliedAsync(ReplNodeProcess node, long position)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var (_, health) = await node.Client.SendAsync(HttpMethod.Get, "/health");
            if (health.GetProperty("position").GetInt64() >= position) return;
            Assert.True(DateTime.UtcNow < deadline, $"{node.Id} did not apply {position}");
            await Task.Delay(20);
        }
    }
}
