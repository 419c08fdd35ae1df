namespace Repl.Actors.Cluster.Etcd;

/// <summary>The answer to a range read.</summary>
public sealed class RangeResult
{
    internal RangeResult(EtcdHeader header, IReadOnlyList<EtcdKeyValue> kvs, bool more, long count)
    {
        Header = header;
        Kvs = kvs;
        More = more;
        Count = count;
    }

    /// <summary>Header; <see cref="EtcdHeader.Revision"/> is the revision the read saw.</summary>
    public EtcdHeader Header { get; }

    /// <summary>The matching keys in key order (at most the requested limit).</summary>
    public IReadOnlyList<EtcdKeyValue> Kvs { get; }

    /// <summary>True when the limit cut the result short.</summary>
    public bool More { get; }

    /// <summary>Total number of keys in the range, regardless of the limit.</summary>
    public long Count { get; }

    internal static RangeResult From(RangeResponseDto dto) =>
        new(EtcdHeader.From(dto.Header), EtcdKeyValue.FromList(dto.Kvs), dto.More, dto.Count);
}
