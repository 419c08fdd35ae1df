namespace Repl.Actors.Cluster.Etcd;

/// <summary>A member of the etcd cluster, as listed by the cluster API.</summary>
/// <param name="Id">The member id.</param>
/// <param name="Name">The member name; empty for a member added but not yet started.</param>
/// <param name="PeerUrls">URLs other members reach it on.</param>
/// <param name="ClientUrls">URLs clients reach it on; empty until it has started.</param>
/// <param name="IsLearner">True for a non-voting learner.</param>
public sealed record EtcdMember(ulong Id, string Name, IReadOnlyList<Uri> PeerUrls, IReadOnlyList<Uri> ClientUrls, bool IsLearner)
{
    internal static EtcdMember From(MemberDto dto) =>
        new(
            dto.Id,
            dto.Name ?? "",
            (dto.PeerUrls ?? []).ConvertAll(u => new Uri(u)),
            (dto.ClientUrls ?? []).ConvertAll(u => new Uri(u)),
            dto.IsLearner);
}
