namespace Voting.LoadTest;

/// <summary>What a run measured and found.</summary>
/// <param name="Ballots">Ballots sent (voters plus second votes).</param>
/// <param name="CastSeconds">From the first ballot to the last acknowledgement.</param>
/// <param name="TotalSeconds">From the first ballot to the final result.</param>
/// <param name="Problems">Every mismatch found; empty means every valid vote was counted exactly once and every bad one refused.</param>
internal sealed record LoadTestReport(
    int Voters, int Ballots, long Counted, long Rejected, IReadOnlyDictionary<string, long> Counts,
    double CastSeconds, double TotalSeconds, IReadOnlyList<string> Problems)
{
    public bool Ok => Problems.Count == 0;
}
