using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Repl.Actors.Sharding;
using Repl.Actors.Topics;

namespace Repl.Host.Cluster;

/// <summary>The Akka cluster as this node sees it, for <c>GET /cluster</c>: members, the sequencer's node, the shards.</summary>
internal static class AkkaClusterView
{
    /// <summary>Sharding's answer is awaited this long at most: /cluster answers with what it has rather than wait.</summary>
    private static readonly TimeSpan ShardsTimeout = TimeSpan.FromMilliseconds(800);

    /// <param name="actors">Where the topics' shard region is registered (a proxy on a lighthouse); none yet: no shard distribution.</param>
    public static async Task<AkkaView> BuildAsync(ActorSystem system, ActorRegistry actors, CancellationToken cancellationToken)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        var unreachable = state.Unreachable.Select(member => member.Address).ToHashSet();
        var members = state.Members
            .Select(member => new AkkaMemberView(member.Address.ToString(), [.. member.Roles.Order(StringComparer.Ordinal)], Status(member.Status),
                !unreachable.Contains(member.Address), member.Address == cluster.SelfAddress))
            .ToList();
        var sequencer = SequencerNode(state.Members);
        IReadOnlyList<ShardRegionView>? shards = null;
        string? shardsError = null;
        if (actors.TryGet<TopicProtocol.Key>(out var topics))
        {
            try
            {
                var stats = await topics.Ask<ClusterShardingStats>(new GetClusterShardingStats(ShardsTimeout), ShardsTimeout + TimeSpan.FromMilliseconds(100), cancellationToken);
                shards = [.. stats.Regions.OrderBy(pair => pair.Key.ToString(), StringComparer.Ordinal).Select(pair => new ShardRegionView(
                    pair.Key.ToString(), pair.Value.Stats.Count, pair.Value.Stats.Values.Sum(),
                    pair.Value.Stats.OrderBy(shard => shard.Key, StringComparer.Ordinal).ToDictionary(shard => shard.Key, shard => shard.Value),
                    pair.Value.Failed is { Count: > 0 } failed ? [.. failed.Order(StringComparer.Ordinal)] : null))];
            }
            catch (Exception error) when (error is AskTimeoutException or OperationCanceledException)
            {
                shardsError = $"sharding did not answer within {ShardsTimeout.TotalMilliseconds:0} ms";
            }
        }
        var downing = system.Settings.Config.GetConfig("akka.cluster.split-brain-resolver");
        string downingProvider = system.Settings.Config.GetString("akka.cluster.downing-provider-class", "");
        string strategy = downingProvider.Length == 0 || downing is null
            ? "none (one-node cluster)"
            : $"{downing.GetString("active-strategy")}, stable-after {downing.GetTimeSpan("stable-after").TotalSeconds:0.#} s";
        return new AkkaView(cluster.SelfAddress.ToString(), Status(cluster.SelfMember.Status), state.Leader?.ToString(), sequencer?.Address.ToString(),
            strategy, members, shards, shardsError);
    }

    /// <summary>
    /// The node that runs (or, while the sequencer is no singleton in cluster mode, would run) the sequencer singleton:
    /// the oldest Up member with role broker, as the singleton manager picks it.
    /// </summary>
    public static Member? SequencerNode(IEnumerable<Member> members) =>
        members.Where(member => member.Status == MemberStatus.Up && member.HasRole("broker"))
            .Aggregate((Member?)null, (oldest, member) => oldest is null || member.IsOlderThan(oldest) ? member : oldest);

    /// <summary>Why this node may not serve yet (it is not an Up member of its cluster); null once it is.</summary>
    public static string? NotUp(ActorSystem system)
    {
        var cluster = Akka.Cluster.Cluster.Get(system);
        var self = cluster.SelfMember;
        if (self.Status == MemberStatus.Up) return null;
        return self.Status == MemberStatus.Removed && cluster.State.Members.IsEmpty
            ? "this node has not joined its cluster yet (seeds: " + string.Join(", ", cluster.Settings.SeedNodes) + ")"
            : $"this node is {Status(self.Status)} in its cluster, not up";
    }

    private static string Status(MemberStatus status) => status.ToString().ToLowerInvariant();
}
