using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Repl.Cluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Repl.Cluster.Tests.Broker;

/// <summary>Presence across three broker processes (<c>Topics:Presence</c> on in <see cref="ReplClusterFixture.NodeSettings"/>).</summary>
[Collection(ReplClusterCollection.Name)]
public sealed class ClusterPresenceTests(ReplClusterFixture cluster, ITestOutputHelper output)
{
    /// <summary>
    /// How long a join or a leave may take to be visible from another node before the test gives up. Issue 25's bound,
    /// 2 s, is measured here (the output says how long each took: 0.3–0.8 s so far), not asserted: on a shared machine a
    /// wall-clock bound fails with the load, not with the code.
    /// </summary>
    private static readonly TimeSpan Visible = TimeSpan.FromSeconds(10);

    private static bool Lists(JsonElement page, string client) =>
        page.GetProperty("clients").EnumerateArray().Any(entry => entry.GetProperty("client").GetString() == client);

    /// <summary>A join or a leave told to a <c>?presence=1</c> stream on another node: batched twice (node, entity), a leave after its 1 s grace.</summary>
    private static readonly TimeSpan Told = TimeSpan.FromSeconds(10);

    private static string ClientOf(Repl.Sse.SseEvent told) => JsonDocument.Parse(told.Data).RootElement.GetProperty("client").GetString()!;

    [Fact]
    public async Task AJoinAndALeaveOnOneNode_AreVisibleFromTheOthers_AndToldToAPresenceStreamOnAnother()
    {
        var (n1, n2, n3) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
        string topic = "p-" + Guid.NewGuid().ToString("N")[..10];
        await cluster.CreateTopicAsync(n1, topic, TimeSpan.FromSeconds(30));
        foreach (var node in cluster.Nodes)
        {
            await node.Client.WaitUntilAsync($"/topics/{topic}", _ => true, TimeSpan.FromSeconds(10));
        }
        // The first query starts the topic's entity, which pulls every broker's set: the timings below are of a join and
        // a leave, not of an entity's start.
        await n2.Client.WaitUntilAsync($"/topics/{topic}/presence/stats", stats => stats.GetProperty("clients").GetInt32() == 0, TimeSpan.FromSeconds(10));
        // A stream on n3 told the topic's joins and leaves: it starts from the counts, which include it.
        await using var watcher = await SseStream.OpenAsync(n3.BaseAddress, $"/topics/{topic}/sse?presence=1");
        var counts = await watcher.NextNonPingAsync(Told);
        Assert.Equal(("presence", 1), (counts.Type, JsonDocument.Parse(counts.Data).RootElement.GetProperty("clients").GetInt32()));

        var clock = Stopwatch.StartNew();
        var stream = await SseStream.OpenAsync(n1.BaseAddress, $"/topics/{topic}/sse");
        string client = stream.Response.Headers.GetValues("X-Request-Id").Single();
        var joined = await n2.Client.WaitUntilAsync($"/topics/{topic}/presence", page => Lists(page, client), Visible);
        output.WriteLine($"join seen on n2 after {clock.ElapsedMilliseconds} ms");
        Assert.Equal("n1", joined.GetProperty("clients").EnumerateArray().Single(entry => entry.GetProperty("client").GetString() == client).GetProperty("node").GetString());
        await n3.Client.WaitUntilAsync($"/topics/{topic}/presence", page => Lists(page, client), Visible);
        var joinedEvent = await watcher.NextNonPingAsync(Told);
        output.WriteLine($"join told on n3 after {clock.ElapsedMilliseconds} ms");
        Assert.Equal(("join", null, client), (joinedEvent.Type, joinedEvent.Id, ClientOf(joinedEvent)));

        clock.Restart();
        await stream.DisposeAsync();
        await n3.Client.WaitUntilAsync($"/topics/{topic}/presence", page => !Lists(page, client), Visible);
        output.WriteLine($"leave seen on n3 after {clock.ElapsedMilliseconds} ms");
        var stats = await n2.Client.WaitUntilAsync($"/topics/{topic}/presence/stats", _ => true, Visible);
        Assert.Equal(1, stats.GetProperty("clients").GetInt32()); // the watcher
        var left = await watcher.NextNonPingAsync(Told);
        output.WriteLine($"leave told on n3 after {clock.ElapsedMilliseconds} ms (1 s of it the grace)");
        Assert.Equal(("leave", null, client), (left.Type, left.Id, ClientOf(left)));
    }
}
