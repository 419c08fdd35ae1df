namespace Repl.Actors.Sequencer;

/// <summary>How publishes are batched into log writes (configuration section <c>Sequencer</c>).</summary>
public sealed class SequencerOptions
{
    /// <summary>Most publishes in one log write (one journal transaction, or one etcd transaction).</summary>
    public int MaxBatch { get; set; } = 4096;

    /// <summary>A node's batches sent to the sequencer and not yet answered.</summary>
    public int MaxInFlight { get; set; } = 2;

    /// <summary>A publish not cut into a log write this long after its node sent it is not committed (503).</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The sequencer snapshots its state every this many positions; recovery replays at most that many.</summary>
    public int SnapshotEvery { get; set; } = 10_000;

    /// <summary>A publish retried with the same <c>Idempotency-Key</c> on its topic within this window is committed once.</summary>
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Most idempotency keys remembered (the oldest go first beyond it); a recovery rebuilds them from the journal's <c>keys</c> table.</summary>
    public int MaxIdempotencyKeys { get; set; } = 1_000_000;
}
