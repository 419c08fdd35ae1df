namespace Repl.Actors.Cluster.Etcd;

/// <summary>One member's view of itself and of the cluster (maintenance status).</summary>
public sealed class EtcdStatus
{
    internal EtcdStatus(Uri endpoint, StatusResponseDto dto)
    {
        Endpoint = endpoint;
        Header = EtcdHeader.From(dto.Header);
        Version = dto.Version ?? "";
        DbSize = dto.DbSize;
        DbSizeInUse = dto.DbSizeInUse;
        Leader = dto.Leader;
        RaftIndex = dto.RaftIndex;
        RaftTerm = dto.RaftTerm;
        RaftAppliedIndex = dto.RaftAppliedIndex;
        IsLearner = dto.IsLearner;
        Errors = dto.Errors ?? [];
    }

    /// <summary>The endpoint that answered.</summary>
    public Uri Endpoint { get; }

    /// <summary>Header (its member id is the answering member).</summary>
    public EtcdHeader Header { get; }

    /// <summary>The answering member's id.</summary>
    public ulong MemberId => Header.MemberId;

    /// <summary>The server version, e.g. 3.4.23.</summary>
    public string Version { get; }

    /// <summary>Backend database size in bytes.</summary>
    public long DbSize { get; }

    /// <summary>Bytes of the backend actually in use.</summary>
    public long DbSizeInUse { get; }

    /// <summary>The member id of the leader this member knows of; 0 when it knows none.</summary>
    public ulong Leader { get; }

    /// <summary>True when the answering member is the leader.</summary>
    public bool IsLeader => Leader != 0 && Leader == MemberId;

    /// <summary>The member's Raft committed index.</summary>
    public ulong RaftIndex { get; }

    /// <summary>The member's Raft term.</summary>
    public ulong RaftTerm { get; }

    /// <summary>The member's Raft applied index.</summary>
    public ulong RaftAppliedIndex { get; }

    /// <summary>True when the member is a learner.</summary>
    public bool IsLearner { get; }

    /// <summary>Alarm and health errors the member reports.</summary>
    public IReadOnlyList<string> Errors { get; }
}
