using System.Text.Json;
using System.Text.Json.Serialization;

namespace Repl.Host.Cluster;

/// <summary><c>GET /cluster</c>: the node answering, the Repl members with their lag, and etcd's view.</summary>
/// <param name="Akka">The Akka cluster: its members, the sequencer's node and the shards.</param>
public sealed record ClusterView(string Mode, string Node, long Applied, long Head, string Status,
    IReadOnlyList<ClusterMemberView> Members, EtcdView? Etcd, AkkaView? Akka = null);

/// <param name="Self">This node's address; <paramref name="SelfStatus"/> its member status (<c>up</c> once it may serve).</param>
/// <param name="Sequencer">The node that runs the sequencer singleton: the oldest Up broker.</param>
/// <param name="Downing">The split-brain resolver's strategy and stable-after.</param>
/// <param name="Shards">The topic entities per broker (null when sharding did not answer in time: see <paramref name="ShardsError"/>).</param>
public sealed record AkkaView(string Self, string SelfStatus, string? Leader, string? Sequencer, string Downing, IReadOnlyList<AkkaMemberView> Members,
    IReadOnlyList<ShardRegionView>? Shards, string? ShardsError);

public sealed record AkkaMemberView(string Address, IReadOnlyList<string> Roles, string Status, bool Reachable, bool Self);

/// <param name="ShardEntities">Live topic entities per shard hosted by this broker.</param>
public sealed record ShardRegionView(string Address, int Shards, int Entities, IReadOnlyDictionary<string, int> ShardEntities, IReadOnlyList<string>? Failed);

/// <param name="Lag">Entries behind the log's head (as the answering node last saw it).</param>
public sealed record ClusterMemberView(string Id, string Url, string Status, long Applied, long Lag, string? StartedAt, bool Self);

public sealed record EtcdView(string? Leader, IReadOnlyList<EtcdMemberView> Members, IReadOnlyList<EtcdEndpointView> Endpoints, string? Error);

public sealed record EtcdMemberView(string Id, string Name, IReadOnlyList<string> ClientUrls, bool Leader);

public sealed record EtcdEndpointView(string Url, string Status, string? Version, bool Leader, long? RaftIndex, long? DbSize, string? Error);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClusterView))]
[JsonSerializable(typeof(ClusterMemberRecord))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
