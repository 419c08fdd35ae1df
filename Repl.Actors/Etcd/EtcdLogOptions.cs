namespace Repl.Actors.Etcd;

/// <summary>How an <see cref="EtcdLog"/> lays the log out in etcd.</summary>
public sealed class EtcdLogOptions
{
    /// <summary>Key prefix of this Repl cluster in etcd (several clusters may share one etcd). Default <c>/repl</c>.</summary>
    public string Prefix { get; init; } = "/repl";

    /// <summary>This node's id: names its writer key, so its retried transactions are recognised.</summary>
    public required string NodeId { get; init; }

    /// <summary>Transactions this node may have in flight at once, each through its own writer key. Default 1.</summary>
    public int WriterSlots { get; init; } = 1;

    /// <summary>Pause before re-opening the watch after etcd was unreachable. Default 500 ms.</summary>
    public TimeSpan WatchRetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>On dispose, how long to wait for the watch to deliver this node's own last commits. Default 2 s.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(2);
}
