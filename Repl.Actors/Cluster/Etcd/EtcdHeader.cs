namespace Repl.Actors.Cluster.Etcd;

/// <summary>The response header etcd attaches to every answer.</summary>
/// <param name="ClusterId">The cluster's id.</param>
/// <param name="MemberId">The member that answered.</param>
/// <param name="Revision">The store's revision when the request was applied (for a write: the revision it created).</param>
/// <param name="RaftTerm">The Raft term at the time.</param>
public readonly record struct EtcdHeader(ulong ClusterId, ulong MemberId, long Revision, ulong RaftTerm)
{
    internal static EtcdHeader From(ResponseHeaderDto? dto) =>
        dto is null ? default : new EtcdHeader(dto.ClusterId, dto.MemberId, dto.Revision, dto.RaftTerm);
}
