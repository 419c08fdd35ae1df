namespace Repl.Actors.Cluster.Etcd;

/// <summary>How a <see cref="TxnCompare"/> relates the stored target to the given operand.</summary>
public enum CompareResult
{
    /// <summary>stored == operand.</summary>
    Equal,

    /// <summary>stored &gt; operand.</summary>
    Greater,

    /// <summary>stored &lt; operand.</summary>
    Less,

    /// <summary>stored != operand.</summary>
    NotEqual,
}
