namespace Repl.Host.Cluster;

/// <summary>Cluster mode (configuration section <c>Cluster</c>); the node is standalone while <see cref="Etcd"/> is unset.</summary>
public sealed class ClusterOptions
{
    /// <summary>Comma-separated etcd client URLs (<c>--etcd http://a:2379,http://b:2379</c>). Set: cluster mode.</summary>
    public string? Etcd { get; set; }

    /// <summary>True in cluster mode: <see cref="Etcd"/> is set.</summary>
    public bool IsCluster => !string.IsNullOrWhiteSpace(Etcd);

    /// <summary><c>standalone</c> or <c>cluster</c>, as <c>/health</c> and <c>/cluster</c> say it.</summary>
    public string Mode => IsCluster ? "cluster" : "standalone";

    /// <summary>The URL other nodes and clients reach this node at, published in the member list (<c>--advertise-url</c>).</summary>
    public string? AdvertiseUrl { get; set; }

    /// <summary>Key prefix of this Repl cluster in etcd.</summary>
    public string Prefix { get; set; } = "/repl";

    /// <summary>etcd revisions kept by compaction; older history is served from each node's journal replica.</summary>
    public long WindowRevisions { get; set; } = 100_000;

    /// <summary>How often the compacting node (the lowest live node id) compacts etcd.</summary>
    public TimeSpan CompactInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Most log entries etcd's watch hands this node's log reader beyond what it has applied: a node catching up holds
    /// this many, not the backlog (see <see cref="Repl.Actors.Etcd.ClusterLogFeed"/>).
    /// </summary>
    public int FeedWindow { get; set; } = Repl.Actors.Etcd.ClusterLogFeed.DefaultWindow;

    /// <summary><c>/readyz</c> fails while this node's applied position is more entries behind the log's head than this.</summary>
    public long MaxLag { get; set; } = 50_000;

    /// <summary>Streams end with <c>event: unavailable</c> once the node has been cut off from etcd for this long.</summary>
    public TimeSpan UnavailableAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>TTL of the membership lease: a node that dies leaves the member list after about this long.</summary>
    public TimeSpan LeaseTtl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the node publishes its applied position and probes etcd.</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Bound on one etcd call, failover included; a publish that cannot commit in this time gets 503.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Throws <see cref="SettingsException"/> for a setting that cannot work (a window of no entries, a zero
    /// interval), so the node exits with one line naming it instead of failing somewhere in its start.
    /// </summary>
    public void Validate()
    {
        if (FeedWindow < 1) throw new SettingsException($"Cluster:FeedWindow is {FeedWindow}: it must be at least 1 (log entries the watch may hand the log reader ahead of what it applied; default {Repl.Actors.Etcd.ClusterLogFeed.DefaultWindow})");
        if (WindowRevisions < 1) throw new SettingsException($"Cluster:WindowRevisions is {WindowRevisions}: it must be at least 1");
        if (MaxLag < 1) throw new SettingsException($"Cluster:MaxLag is {MaxLag}: it must be at least 1");
        SettingsException.ThrowUnlessPositive("Cluster:CompactInterval", CompactInterval);
        SettingsException.ThrowUnlessPositive("Cluster:UnavailableAfter", UnavailableAfter);
        SettingsException.ThrowUnlessPositive("Cluster:LeaseTtl", LeaseTtl);
        SettingsException.ThrowUnlessPositive("Cluster:ProgressInterval", ProgressInterval);
        SettingsException.ThrowUnlessPositive("Cluster:RequestTimeout", RequestTimeout);
    }
}
