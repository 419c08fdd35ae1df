namespace Repl.Actors.Cluster.Etcd;

/// <summary>A granted lease.</summary>
/// <param name="Id">The lease id, to attach keys with and to keep alive.</param>
/// <param name="Ttl">The TTL etcd granted (it may raise a too-small request to its minimum).</param>
/// <param name="Header">The response header.</param>
public sealed record LeaseGrantResult(long Id, TimeSpan Ttl, EtcdHeader Header);
