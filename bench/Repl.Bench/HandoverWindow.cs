using System.Diagnostics;

namespace Repl.Bench;

/// <summary>
/// What a kill during the measured window (<c>--kill-pid</c>) did to the acknowledgements: the longest time without
/// any 201 around and after the kill (the handover to the next sequencer), and when they came again.
/// </summary>
/// <param name="KillAtSeconds">When the kill was sent, in seconds after the window started.</param>
/// <param name="LongestWithoutAckSeconds">The longest gap between two acknowledgements (over all publishers) that ends after the kill; to the window's last answer when none came after it.</param>
/// <param name="ResumedAfterKillSeconds">From the kill to the acknowledgement that ended that gap; null when none came after the kill.</param>
/// <param name="AckedAfterKill">Acknowledgements after the kill (the first ones may be of messages committed before it).</param>
internal sealed record HandoverWindow(double KillAtSeconds, double LongestWithoutAckSeconds, double? ResumedAfterKillSeconds, long AckedAfterKill)
{
    /// <param name="startAt">The window's start, <paramref name="killedAt"/> the kill, <paramref name="endAt"/> the last answer (Stopwatch ticks).</param>
    /// <param name="ackTimes">When each 201 arrived (Stopwatch ticks), in any order.</param>
    public static HandoverWindow Measure(long startAt, long killedAt, long endAt, IEnumerable<long> ackTimes)
    {
        long previous = startAt;
        long longest = 0;
        long? resumedAt = null;
        long after = 0;
        foreach (long at in ackTimes.Order())
        {
            if (at > killedAt)
            {
                after++;
                if (at - previous > longest)
                {
                    longest = at - previous;
                    resumedAt = at;
                }
            }
            previous = at;
        }
        if (after == 0) longest = endAt - previous;
        return new HandoverWindow(Seconds(killedAt - startAt), Seconds(longest), resumedAt is { } r ? Seconds(r - killedAt) : null, after);
    }

    private static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;
}
