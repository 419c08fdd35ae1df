namespace Repl.Actors.Sequencer;

/// <summary>Where a request's publishes landed: answered once they are committed and applied on this node.</summary>
/// <param name="Positions">Each command's position, in order; 0 where its topic did not exist at the cut,
/// <see cref="SequencerProtocol.OverRate"/> where its topic's <c>publishRate</c> refused it.</param>
/// <param name="Retried">Null, or true at each command whose idempotency key was committed before
/// (<see cref="SequencerProtocol.Committed.Retried"/>): its position holds that earlier publish's message, not its own.</param>
public readonly record struct Commit(long[] Positions, bool[]? Retried = null)
{
    /// <summary>Whether command <paramref name="index"/> was answered with an earlier publish's position.</summary>
    public bool IsRetry(int index) => Retried is { } retried && retried[index];
}
