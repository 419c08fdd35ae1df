namespace Voting.LoadTest;

/// <summary>What the load test does; every field is a <c>--kebab-case</c> switch of the program.</summary>
internal sealed record LoadTestOptions
{
    public string Node { get; init; } = "http://localhost:9000";

    public string Votes { get; init; } = "votes";

    public string Results { get; init; } = "results";

    /// <summary>Simulated voters, each with its own userId.</summary>
    public int Voters { get; init; } = 20_000;

    /// <summary>Share of voters who vote a second time (must be rejected).</summary>
    public double Doubles { get; init; } = 0.01;

    /// <summary>Share of voters who pick an option that does not exist (must be rejected, and may not count).</summary>
    public double Invalid { get; init; } = 0.005;

    public string Options { get; init; } = "A,B,C";

    /// <summary>Ballots in flight at once.</summary>
    public int Concurrency { get; init; } = 128;

    /// <summary>HTTP connections in the pool (the seed's lesson: a pool, not a socket per voter).</summary>
    public int Connections { get; init; } = 32;

    /// <summary>How long to wait for the final result once every ballot is in.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(120);

    public int Seed { get; init; } = 42;

    /// <summary>
    /// The node checks ballots through its publish hook (the tally's <c>/hooks/ballot</c>): an invalid ballot is answered
    /// 403 and never committed, so the tally neither sees nor rejects it.
    /// </summary>
    public bool BallotHook { get; init; }
}
