namespace Repl.Actors.Cluster.Etcd;

/// <summary>What a <see cref="TxnCompare"/> looks at on the stored key.</summary>
public enum CompareTarget
{
    /// <summary>The key's version (0 when the key does not exist).</summary>
    Version,

    /// <summary>The key's create revision (0 when the key does not exist).</summary>
    CreateRevision,

    /// <summary>The key's last modification revision (0 when the key does not exist).</summary>
    ModRevision,

    /// <summary>The key's value bytes.</summary>
    Value,

    /// <summary>The key's lease id (0 when none).</summary>
    Lease,
}
