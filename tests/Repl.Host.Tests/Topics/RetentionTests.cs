using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Repl.Actors.Sharding;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Topics;

/// <summary>Retention has one owner, which tells only the topics over their limits: idle topics' entities passivate.</summary>
public sealed class RetentionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Retention_TrimsATopicOverItsLimit_AndWakesNoEntityOfATopicUnderIt()
    {
        // A round every 200 ms and entities that passivate after 2 s idle: asking every topic's entity each round, as
        // retention once did, kept every entity awake for good.
        await using var server = await ReplServer.StartAsync(null, "--Node:RetentionInterval", "00:00:00.2", "--Topics:PassivateAfter", "00:00:02",
            "--Journal:MaxMessagesPerTopic", "5");
        await server.Client.CreateTopicAsync("idle");
        await server.Client.PublishAsync("idle", "under its limit");
        await server.Client.CreateTopicAsync("busy");
        var ids = new List<long>();
        for (int i = 0; i < 12; i++) ids.Add(await server.Client.PublishAsync("busy", $"m{i}"));

        // Trimmed by the owner's own rounds, then left alone like the rest.
        await WaitForAsync(async () => (await TopicInfoAsync(server, "busy")).GetProperty("trimmedThrough").GetInt64() == ids[6], "busy to be trimmed to its last 5");
        await WaitForAsync(async () => !(await LiveEntitiesAsync(server)).Overlaps(["idle", "busy"]), "the idle and the trimmed topic's entities to passivate");

        await server.Node.ApplyRetentionAsync();
        Assert.False((await LiveEntitiesAsync(server)).Overlaps(["idle", "busy"]));
        Assert.Equal(5, (await TopicInfoAsync(server, "busy")).GetProperty("messages").GetInt64());
        Assert.Equal(1, (await TopicInfoAsync(server, "idle")).GetProperty("messages").GetInt64());
    }

    [Fact]
    public void RetentionInterval_OfZero_IsASettingsError()
    {
        var error = Assert.Throws<Repl.Host.SettingsException>(() => ReplHost.Build(["--Node:RetentionInterval", "00:00:00", "--Journal:InMemory", "true"]));
        Assert.Contains("Node:RetentionInterval", error.Message);
    }

    private static async Task<System.Text.Json.JsonElement> TopicInfoAsync(ReplServer server, string topic) =>
        (await server.Client.SendAsync(HttpMethod.Get, $"/topics/{topic}")).Body;

    /// <summary>The topics whose sharded entity is alive on the node.</summary>
    private static async Task<HashSet<string>> LiveEntitiesAsync(ReplServer server)
    {
        var region = server.Services.GetRequiredService<ActorRegistry>().Get<TopicProtocol.Key>();
        var state = await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(5));
        return [.. state.Shards.SelectMany(shard => shard.EntityIds)];
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("timed out waiting for " + what);
            await Task.Delay(100);
        }
    }
}
