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

    /// <summary>
    /// How long a client's leave is held before <c>?presence=1</c> streams are told (<c>event: leave</c>): a client of the
    /// same user that joins meanwhile takes its place, and neither is told. Zero: at the next batch. The presence routes
    /// are not delayed by it.
    /// </summary>
    public TimeSpan PresenceLeaveGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Above this many clients, a topic's streams get its counts (<c>event: presence</c>, at most once a second) instead of each join and leave.</summary>
    public int PresenceEventsUpTo { get; set; } = 100;

    /// <summary>The most <see cref="PresenceEventsUpTo"/> may be: beyond it, every join and leave would be a flood on every stream.</summary>
    public const int MaxPresenceEventsUpTo = 1000;
}
