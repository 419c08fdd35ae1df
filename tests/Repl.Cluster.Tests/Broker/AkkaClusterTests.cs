using System.Diagnostics;
using System.Net;
using Repl.Cluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Repl.Cluster.Tests.Broker;

/// <summary>The Akka cluster of lighthouses and brokers: formation, sharding across brokers, losing members.</summary>
[Collection(ReplClusterCollection.Name)]
public sealed class AkkaClusterTests(ReplClusterFixture cluster, ITestOutputHelper output) : IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => cluster.HealAsync();

    [Fact]
    public async Task BrokersAndLighthouses_FormOneCluster_EveryNodeListsThemAllUpWithTheirRoles()
    {
        var expected = cluster.Lighthouses.Select(node => (node.AkkaAddress, "lighthouse"))
            .Concat(cluster.Nodes.Select(node => (node.AkkaAddress, "broker"))).Order().ToArray();
        foreach (var node in cluster.Nodes.Concat(cluster.Lighthouses))
        {
            var members = await ReplClusterFixture.AkkaMembersAsync(node);
            Assert.Equal(expected, members.Select(member => (member.Address, Assert.Single(member.Roles))).Order().ToArray());
            Assert.All(members, member => Assert.True(member.Status == "up" && member.Reachable, $"{member.Address} is {member.Status} as {node.Id} sees it"));

            var view = await ReplClusterFixture.AkkaViewAsync(node);
            Assert.Equal(node.AkkaAddress, view.GetProperty("self").GetString());
            // The sequencer's node is the oldest Up broker: the same one for everybody, never a lighthouse.
            Assert.Contains(view.GetProperty("sequencer").GetString(), cluster.Nodes.Select(broker => broker.AkkaAddress));
            Assert.StartsWith("keep-majority", view.GetProperty("downing").GetString());
        }
        var sequencers = await Task.WhenAll(cluster.Nodes.Concat(cluster.Lighthouses).Select(async node => (await ReplClusterFixture.AkkaViewAsync(node)).GetProperty("sequencer").GetString()));
        Assert.Single(sequencers.Distinct());
    }

    [Fact]
    public async Task TopicEntities_SpreadOverTheBrokers_AndChangesCommitFromAnyNode()
    {
        // 30 topics over 10 shards, created through every broker in turn: the entity of most lives on another broker
        // than the request, which asks it over remoting.
        var topics = Enumerable.Range(0, 30).Select(i => $"spread-{i}-{Guid.NewGuid():N}"[..24]).ToArray();
        for (int i = 0; i < topics.Length; i++) await cluster.Nodes[i % cluster.Nodes.Count].Client.CreateTopicAsync(topics[i]);

        var view = await ReplClusterFixture.AkkaViewAsync(cluster.Nodes[0]);
        var regions = view.GetProperty("shards").EnumerateArray()
            .Select(region => (Address: region.GetProperty("address").GetString()!, Shards: region.GetProperty("shards").GetInt32())).ToArray();
        output.WriteLine(string.Join("; ", regions.Select(region => $"{region.Address}: {region.Shards} shards")));
        Assert.All(regions, region => Assert.Contains(region.Address, cluster.Nodes.Select(node => node.AkkaAddress)));
        Assert.True(regions.Count(region => region.Shards > 0) > 1, "every shard is on one broker");

        // A topic created through one broker's entity exists on every node (each applies the same log).
        foreach (var node in cluster.Nodes)
        {
            foreach (string topic in topics)
            {
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while ((await node.Client.GetAsync($"/topics/{topic}")).StatusCode != HttpStatusCode.OK)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"topic {topic} never appeared on {node.Id}");
                    await Task.Delay(20);
                }
            }
        }
        // A second create of the same topic through another broker reaches the same entity: 409.
        var (status, _) = await cluster.Nodes[1].Client.SendAsync(HttpMethod.Post, "/topics", $$"""{"name":"{{topics[0]}}"}""");
        Assert.Equal(HttpStatusCode.Conflict, status);
    }

    [Fact]
    public async Task LighthouseKilled_ClusterKeepsServing_AndANewBrokerJoinsThroughTheOther()
    {
        cluster.Lighthouses[0].Kill();
        string topic = "lh-" + Guid.NewGuid().ToString("N")[..10];
        await cluster.Nodes[1].Client.CreateTopicAsync(topic);
        long position = await cluster.Nodes[2].Client.PublishAsync(topic, "while a lighthouse is down");
        Assert.True(position > 0);

        await using var joiner = await cluster.StartBrokerAsync("n4");
        var members = await ReplClusterFixture.AkkaMembersAsync(joiner);
        Assert.Contains(members, member => member.Address == joiner.AkkaAddress && member.Status == "up" && member.Roles.SequenceEqual(["broker"]));
        Assert.Contains(members, member => member.Address == cluster.Lighthouses[1].AkkaAddress && member.Status == "up");
        long next = await joiner.Client.PublishAsync(topic, "through the new broker");
        Assert.True(next > position);

        joiner.Kill();
        await WaitGoneAsync(joiner.AkkaAddress, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task BrokerKilled_IsDownedAndRemovedWithinFifteenSeconds_AndTopicChangesGoOn()
    {
        await using var victim = await cluster.StartBrokerAsync("n5");
        await cluster.Nodes[0].Client.CreateTopicAsync("kill-" + Guid.NewGuid().ToString("N")[..10]);
        var clock = Stopwatch.StartNew();
        victim.Kill();
        var removed = await WaitGoneAsync(victim.AkkaAddress, TimeSpan.FromSeconds(30), (what, at) => output.WriteLine($"kill -9 → {what} at {at.TotalSeconds:0.0} s"));
        Assert.True(removed < TimeSpan.FromSeconds(15), $"removed after {removed.TotalSeconds:0.0} s");

        // Every shard answers again (shards of the dead broker were reallocated): ten topics cover most of the ten shards.
        for (int i = 0; i < 10; i++)
        {
            string topic = $"after-kill-{i}-{Guid.NewGuid():N}"[..24];
            while (true)
            {
                var (status, body) = await cluster.Nodes[i % 3].Client.SendAsync(HttpMethod.Post, "/topics", $$"""{"name":"{{topic}}"}""");
                if (status is HttpStatusCode.Created or HttpStatusCode.Conflict) break;
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"topic changes still fail {clock.Elapsed.TotalSeconds:0} s after the kill: {status} {body}");
                await Task.Delay(100);
            }
        }
        output.WriteLine($"kill -9 → ten topic changes committed in {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task SequencerNodeKilled_TheNextOldestBrokerTakesOver_AndTopicChangesGoOnWithinFifteenSeconds()
    {
        // The oldest broker holds the singletons (the sharding coordinator today, the sequencer once it is one).
        string oldest = (await ReplClusterFixture.AkkaViewAsync(cluster.Nodes[0])).GetProperty("sequencer").GetString()!;
        var victim = cluster.Nodes.Single(node => node.AkkaAddress == oldest);
        var survivors = cluster.Nodes.Where(node => node != victim).ToArray();
        var clock = Stopwatch.StartNew();
        victim.Kill();
        await WaitGoneAsync(oldest, TimeSpan.FromSeconds(30), (what, at) => output.WriteLine($"kill -9 of the oldest broker → {what} at {at.TotalSeconds:0.0} s"));
        string next = (await ReplClusterFixture.AkkaViewAsync(survivors[0])).GetProperty("sequencer").GetString()!;
        Assert.Contains(next, survivors.Select(node => node.AkkaAddress));

        // New topics need the coordinator (to allocate their shards) and the shards the victim held: both moved.
        for (int i = 0; i < 10; i++)
        {
            string topic = $"after-oldest-{i}-{Guid.NewGuid():N}"[..26];
            while (true)
            {
                var (status, body) = await survivors[i % 2].Client.SendAsync(HttpMethod.Post, "/topics", $$"""{"name":"{{topic}}"}""");
                if (status is HttpStatusCode.Created or HttpStatusCode.Conflict) break;
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"topic changes still fail {clock.Elapsed.TotalSeconds:0} s after the kill: {status} {body}");
                await Task.Delay(100);
            }
        }
        output.WriteLine($"kill -9 of the oldest broker → ten topic changes committed at {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"topic changes resumed after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task BrokerFrozenForFiveSeconds_StaysAMember_ItsStreamGoesOn_AndItsPublishesCommitAfterwards()
    {
        // A broker that does not run the sequencer, so the others commit while it is frozen.
        var nodes = await cluster.SequencerFirstAsync();
        var frozen = nodes[1];
        var other = nodes[2];
        string topic = "stall-" + Guid.NewGuid().ToString("N")[..10];
        await other.Client.CreateTopicAsync(topic);
        var appeared = Stopwatch.StartNew();
        while ((await frozen.Client.GetAsync($"/topics/{topic}")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(appeared.Elapsed < TimeSpan.FromSeconds(10), $"topic {topic} never appeared on {frozen.Id}");
            await Task.Delay(20);
        }
        await using var stream = await SseStream.OpenAsync(frozen.BaseAddress, $"/topics/{topic}/sse");
        var published = new List<long> { await other.Client.PublishAsync(topic, "before") };
        Assert.Equal(published, (await stream.MessagesAsync(1, TimeSpan.FromSeconds(10))).Select(message => message.Id));

        // Five seconds frozen: failure detection marks it unreachable, and the resolver must not decide before it is back.
        var clock = Stopwatch.StartNew();
        frozen.Pause();
        try
        {
            for (int i = 0; clock.Elapsed < TimeSpan.FromSeconds(5); i++)
            {
                published.Add(await other.Client.PublishAsync(topic, $"while frozen {i}"));
                await Task.Delay(500);
            }
        }
        finally
        {
            frozen.Resume();
        }
        output.WriteLine($"frozen for {clock.Elapsed.TotalSeconds:0.0} s");

        // Back: it commits through the sequencer again (a 503 is retried, as a client would, within seconds).
        var (status, id, body) = (default(HttpStatusCode), 0L, "");
        var resumed = Stopwatch.StartNew();
        while (status != HttpStatusCode.Created)
        {
            Assert.True(resumed.Elapsed < TimeSpan.FromSeconds(10), $"a publish through the woken broker answered {(int)status}: {body}");
            (status, id, body) = await frozen.Client.TryPublishAsync(topic, "after", "stall-after-" + topic);
        }
        output.WriteLine($"a publish through it committed {resumed.Elapsed.TotalSeconds:0.0} s after it continued");
        published.Add(id);
        // Its stream never ended: it delivers what was committed while it was frozen and after, in order, once.
        Assert.Equal(published, (await stream.MessagesAsync(published.Count - 1, TimeSpan.FromSeconds(20))).Select(message => message.Id).Prepend(published[0]));

        // Past the time the resolver would have downed it (unreachable + stable-after after its last change), it is
        // still the same member, Up and reachable everywhere: never downed, never restarted.
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(8))
        {
            var seen = (await ReplClusterFixture.AkkaMembersAsync(other)).SingleOrDefault(member => member.Address == frozen.AkkaAddress);
            Assert.True(seen is { Status: "up" }, $"{other.Id} sees the woken broker as {seen?.Status ?? "removed"}");
            Assert.True(frozen.IsRunning, $"the woken broker shut down (downed):\n{frozen.OutputTail}");
            await Task.Delay(250);
        }
        await cluster.WaitConvergedAsync(TimeSpan.FromSeconds(30));
        Assert.True(frozen.IsRunning);
    }

    [Fact]
    public async Task BrokerWhoseSeedsDoNotAnswer_IsNotReady_AndSaysSoWithinASecond()
    {
        int nobody = ReplNodeProcess.FreePort();
        await using var lonely = await ReplNodeProcess.StartBrokerAsync("lonely", cluster.Etcd.ClientUrlList, [ReplNodeProcess.AkkaAddressOf(nobody)], waitReady: false);
        using var probe = new HttpClient { BaseAddress = lonely.BaseAddress, Timeout = TimeSpan.FromSeconds(1) };
        HttpResponseMessage? ready = null;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (ready is null)
        {
            try
            {
                ready = await probe.GetAsync("/readyz");
            }
            // Not listening yet, or (a loaded machine) still compiling its first request: the bound holds from the next on.
            catch (Exception error) when (error is HttpRequestException or TaskCanceledException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            using var answer = await probe.GetAsync("/readyz");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"/readyz took {clock.Elapsed.TotalMilliseconds:0} ms");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
            Assert.Contains("has not joined its cluster", await answer.Content.ReadAsStringAsync());
            await Task.Delay(200);
        }
        ready.Dispose();
        Assert.True(lonely.IsRunning);
    }

    /// <summary>Waits until no survivor lists <paramref name="address"/>; returns how long it took.</summary>
    /// <param name="seen">Told when a survivor first sees it unreachable, down, and when no survivor lists it.</param>
    private async Task<TimeSpan> WaitGoneAsync(string address, TimeSpan timeout, Action<string, TimeSpan>? seen = null)
    {
        var clock = Stopwatch.StartNew();
        var told = new HashSet<string>();
        while (clock.Elapsed < timeout)
        {
            var views = await Task.WhenAll(cluster.Nodes.Where(node => node.IsRunning).Select(ReplClusterFixture.AkkaMembersAsync));
            var listed = views.SelectMany(members => members.Where(member => member.Address == address)).ToArray();
            if (listed.Any(member => !member.Reachable) && told.Add("unreachable")) seen?.Invoke("unreachable", clock.Elapsed);
            if (listed.Any(member => member.Status is "down" or "exiting" or "removed") && told.Add("down")) seen?.Invoke("down", clock.Elapsed);
            if (listed.Length == 0)
            {
                seen?.Invoke("removed everywhere", clock.Elapsed);
                return clock.Elapsed;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{address} still listed after {timeout.TotalSeconds:0} s");
    }
}
