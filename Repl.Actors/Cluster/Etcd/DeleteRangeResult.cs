namespace Repl.Actors.Cluster.Etcd;

/// <summary>The answer to a delete.</summary>
public sealed class DeleteRangeResult
{
    internal DeleteRangeResult(EtcdHeader header, long deleted, IReadOnlyList<EtcdKeyValue> prevKvs)
    {
        Header = header;
        Deleted = deleted;
        PrevKvs = prevKvs;
    }

    /// <summary>Header; the revision is the delete's own when something was deleted.</summary>
    public EtcdHeader Header { get; }

    /// <summary>Number of keys deleted.</summary>
    public long Deleted { get; }

    /// <summary>The deleted key-values, when asked for.</summary>
    public IReadOnlyList<EtcdKeyValue> PrevKvs { get; }

    internal static DeleteRangeResult From(DeleteRangeResponseDto dto) =>
        new(EtcdHeader.From(dto.Header), dto.Deleted, EtcdKeyValue.FromList(dto.PrevKvs));
}
