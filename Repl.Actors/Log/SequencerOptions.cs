namespace Repl.Actors.Log;

/// <summary>How the sequencer batches publishes into log appends.</summary>
public sealed class SequencerOptions
{
    /// <summary>Most publishes in one append (one journal transaction or one etcd transaction).</summary>
    public int MaxBatch { get; set; } = 4096;

    /// <summary>
    /// Appends in flight at once. 1 (standalone: the journal commits one transaction at a time anyway). Cluster mode
    /// raises it (<c>Cluster:MaxInFlightAppends</c>): etcd commits concurrent transactions with one disk sync.
    /// </summary>
    public int MaxInFlight { get; set; } = 1;

    /// <summary>Publishes waiting for a batch before publishers are made to wait (back-pressure).</summary>
    public int MaxQueued { get; set; } = 100_000;
}
