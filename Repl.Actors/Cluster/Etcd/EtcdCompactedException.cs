namespace Repl.Actors.Cluster.Etcd;

/// <summary>The requested revision is older than etcd's compaction point: history before it is gone.</summary>
/// <remarks>
/// A watcher seeing this must re-read current state (a range at the current revision)
/// and watch from there; it cannot get the missed events.
/// </remarks>
public sealed class EtcdCompactedException : EtcdException
{
    /// <summary>Creates the exception.</summary>
    public EtcdCompactedException(long requestedRevision, long compactRevision)
        : base(
            compactRevision > 0
                ? $"etcd revision {requestedRevision} has been compacted; the oldest revision still held is {compactRevision}."
                : $"etcd revision {requestedRevision} has been compacted.",
            11,
            400)
    {
        RequestedRevision = requestedRevision;
        CompactRevision = compactRevision;
    }

    /// <summary>The revision asked for.</summary>
    public long RequestedRevision { get; }

    /// <summary>
    /// The compaction point reported by a watch: the oldest revision that can still be
    /// watched. 0 when etcd did not say (a range read at a compacted revision).
    /// </summary>
    public long CompactRevision { get; }
}
