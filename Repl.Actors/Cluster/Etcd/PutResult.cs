namespace Repl.Actors.Cluster.Etcd;

/// <summary>The answer to a put.</summary>
public sealed class PutResult
{
    internal PutResult(EtcdHeader header, EtcdKeyValue? prevKv)
    {
        Header = header;
        PrevKv = prevKv;
    }

    /// <summary>Header; <see cref="EtcdHeader.Revision"/> is the revision the put created.</summary>
    public EtcdHeader Header { get; }

    /// <summary>The previous key-value, when asked for and the key existed.</summary>
    public EtcdKeyValue? PrevKv { get; }

    internal static PutResult From(PutResponseDto dto) =>
        new(EtcdHeader.From(dto.Header), dto.PrevKv is null ? null : EtcdKeyValue.From(dto.PrevKv));
}
