namespace Repl.Actors.Cluster.Etcd;

/// <summary>The kind of a <see cref="TxnOp"/> or <see cref="TxnOpResult"/>.</summary>
public enum TxnOpKind
{
    /// <summary>A range read.</summary>
    Range,

    /// <summary>A put.</summary>
    Put,

    /// <summary>A delete of a key or range.</summary>
    DeleteRange,
}
