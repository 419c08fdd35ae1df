namespace Voting.Tally;

/// <summary>The tally's settings (configuration section <c>Tally</c>; switches in <c>Program.cs</c>).</summary>
internal sealed class TallyOptions
{
    /// <summary>The Repl node's base URL.</summary>
    public string Node { get; set; } = "http://localhost:9000";

    /// <summary>The durable log of ballots: the tally's only input.</summary>
    public string Votes { get; set; } = "votes";

    /// <summary>Where confirmations, errors, partial and final results go.</summary>
    public string Results { get; set; } = "results";

    /// <summary>The valid options, comma separated.</summary>
    public string Options { get; set; } = "A,B,C";

    /// <summary>A partial result after every this many counted votes (deterministic: the same on a replay).</summary>
    public int PartialEvery { get; set; } = 1000;

    /// <summary>Also a partial result this often while the counts move (for live pages during slow voting).</summary>
    public TimeSpan PartialInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Most results per batch publish (the node's <c>Limits:MaxBatch</c> defaults to 1000).</summary>
    public int MaxBatch { get; set; } = 1000;

    internal string[] OptionList => Options.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
