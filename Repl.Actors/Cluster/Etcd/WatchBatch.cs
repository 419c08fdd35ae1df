namespace Repl.Actors.Cluster.Etcd;

/// <summary>One watch response: the events etcd delivered together, or a progress notification.</summary>
/// <remarks>
/// Events are in revision order, across batches too. etcd never splits one revision's
/// events across batches, so all writes of one transaction arrive in the same batch.
/// </remarks>
public sealed class WatchBatch
{
    internal WatchBatch(EtcdHeader header, IReadOnlyList<WatchEvent> events)
    {
        Header = header;
        Events = events;
    }

    /// <summary>Header of the response; for a progress notification, every event up to its revision has been delivered.</summary>
    public EtcdHeader Header { get; }

    /// <summary>The events, in revision order.</summary>
    public IReadOnlyList<WatchEvent> Events { get; }

    /// <summary>True for a progress notification (no events; the watch is caught up to <see cref="EtcdHeader.Revision"/>).</summary>
    public bool IsProgressNotify => Events.Count == 0;
}
