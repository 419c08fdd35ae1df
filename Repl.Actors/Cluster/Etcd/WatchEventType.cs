namespace Repl.Actors.Cluster.Etcd;

/// <summary>What happened to a key.</summary>
public enum WatchEventType
{
    /// <summary>The key was created or updated.</summary>
    Put,

    /// <summary>The key was deleted (or its lease expired).</summary>
    Delete,
}
