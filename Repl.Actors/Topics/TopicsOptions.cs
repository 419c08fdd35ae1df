namespace Repl.Actors.Topics;

/// <summary>How topics behave on a node.</summary>
public sealed class TopicsOptions
{
    /// <summary>Recent messages each active topic keeps framed in memory; older ones are read from the journal.</summary>
    public int MemoryWindow { get; set; } = 1024;

    /// <summary>A topic with no subscriber and no message for this long drops its in-memory window.</summary>
    public TimeSpan PassivateAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Topics that exist from the first start (as REPL's <c>demo</c>). Standalone only.</summary>
    public string[] Initial { get; set; } = ["demo"];

    /// <summary>
    /// Presence (who reads a topic: <c>GET /topics/{name}/presence</c>) for every topic of this node. Off by default:
    /// with it off no stream is tracked and nothing costs.
    /// </summary>
    public bool Presence { get; set; }
}
