namespace Repl.Host.Cluster;

/// <summary>Cluster mode (configuration section <c>Cluster</c>); the node is standalone while <see cref="Etcd"/> is unset.</summary>
public sealed class ClusterOptions
{
    /// <summary>Comma-separated etcd client URLs (<c>--etcd http://a:2379,http://b:2379</c>). Set: cluster mode.</summary>
    public string? Etcd { get; set; }

    /// <summary>The URL other nodes and clients reach this node at, published in the member list (<c>--advertise-url</c>).</summary>
    public string? AdvertiseUrl { get; set; }

    /// <summary>Key prefix of this Repl cluster in etcd.</summary>
    public string Prefix { get; set; } = "/repl";

    /// <summary>etcd revisions kept by compaction; older history is served from each node's journal replica.</summary>
    public long WindowRevisions { get; set; } = 100_000;

    /// <summary>How often the compacting node (the lowest live node id) compacts etcd.</summary>
    public TimeSpan CompactInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary><c>/readyz</c> fails while this node's applied revision is further behind the log than this.</summary>
    public long MaxLagRevisions { get; set; } = 5_000;

    /// <summary>Streams end with <c>event: unavailable</c> once the node has been cut off from etcd for this long.</summary>
    public TimeSpan UnavailableAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>TTL of the membership lease: a node that dies leaves the member list after about this long.</summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the node publishes its applied position and probes etcd.</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Batches in flight to etcd at once from this node (each through its own writer key). A node's commits are
    /// bound by etcd's round trip and disk sync; with several in flight etcd can sync them together.
    /// </summary>
    /// <remarks>
    /// Default 1. Measured with bench/run.sh C1/C2 (3 etcd + 3 nodes sharing one core, bench/README.md "Cluster
    /// scenarios"): with no subscribers 2 or 4 commit 40–55 % more publishes/s than 1 (~3.5k vs 2.2k–2.5k/s), but with 300
    /// subscribers the core is saturated by fan-out and 2 or 4 gave no more publishes/s and a worse p99 at 2,000/s
    /// (more work in flight on a full core is more queueing), so the default stays 1. The cluster tests run with 4.
    /// </remarks>
    public int MaxInFlightAppends { get; set; } = 1;

    /// <summary>Bound on one etcd call, failover included; a publish that cannot commit in this time gets 503.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
