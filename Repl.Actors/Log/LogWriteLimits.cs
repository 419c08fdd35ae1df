namespace Repl.Actors.Log;

/// <summary>What one write to the log holds at most: one etcd transaction's worth, in both modes.</summary>
/// <remarks>
/// The sequencer cuts its writes at these (<see cref="Sequencer.SequencerProtocol.Settings"/>) standalone too, so that
/// a batch never depends on the mode it was cut in; the etcd journal and snapshot store check against them.
/// </remarks>
public static class LogWriteLimits
{
    /// <summary>
    /// What <paramref name="commands"/> take of one write, in bytes as the log encodes them: a request that must be one
    /// write (a broadcast) fits when this is at most <see cref="MaxBytes"/>.
    /// </summary>
    public static long Bytes(PublishCommand[] commands) => Etcd.LogBatchCodec.SizeOf(commands);

    /// <summary>Most bytes of entries in one write (etcd refuses requests over <c>--max-request-bytes</c>, 1.5 MiB by default).</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Most topic creates and deletes in one write (etcd's <c>--max-txn-ops</c> is 128 by default; three more ops go with each).</summary>
    public const int MaxTopicChanges = 100;
}
