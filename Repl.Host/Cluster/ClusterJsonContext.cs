using System.Text.Json;
using System.Text.Json.Serialization;

namespace Repl.Host.Cluster;

/// <summary><c>GET /cluster</c>: the node answering, the Repl members with their lag, and etcd's view.</summary>
public sealed record ClusterView(string Mode, string Node, long Applied, long Head, string Status,
    IReadOnlyList<ClusterMemberView> Members, EtcdView? Etcd);

/// <param name="Lag">Entries behind the log's head (as the answering node last saw it).</param>
public sealed record ClusterMemberView(string Id, string Url, string Status, long Applied, long Lag, string? StartedAt, bool Self);

public sealed record EtcdView(string? Leader, IReadOnlyList<EtcdMemberView> Members, IReadOnlyList<EtcdEndpointView> Endpoints, string? Error);

public sealed record EtcdMemberView(string Id, string Name, IReadOnlyList<string> ClientUrls, bool Leader);

public sealed record EtcdEndpointView(string Url, string Status, string? Version, bool Leader, long? RaftIndex, long? DbSize, string? Error);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ClusterView))]
[JsonSerializable(typeof(ClusterMemberRecord))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
