namespace Repl.Actors.Log;

/// <summary>How the sequencer batches publishes into log appends.</summary>
public sealed class SequencerOptions
{
    /// <summary>Most publishes in one append (one journal transaction or one etcd transaction).</summary>
    public int MaxBatch { get; set; } = 4096;

    /// <summary>Publishes waiting for a batch before publishers are made to wait (back-pressure).</summary>
    public int MaxQueued { get; set; } = 100_000;
}
