using System.Collections.Concurrent;

namespace Repl.Bench.Crash;

/// <summary>What the clients of one crash run did and saw: every value sent, every acknowledgement, every answer that broke a rule.</summary>
/// <remarks>Values are unique per run (<c>p3-17</c>): a value names one publish, however many times it was retried.</remarks>
internal sealed class Ledger
{
    /// <summary>Every value some request carried: a message in the journal whose value is not here is a phantom.</summary>
    public ConcurrentDictionary<string, byte> Sent { get; } = new();

    /// <summary>Value → the id its 201 answered (for a keyed publish, the id of its last 201; all must agree).</summary>
    public ConcurrentDictionary<string, long> Acknowledged { get; } = new();

    /// <summary>Answers that are not 201 and not one of the allowed failures (503, a refused or cut connection).</summary>
    public ConcurrentQueue<string> Violations { get; } = new();

    public long Requests;
    public long Failed;
    /// <summary>Keyed publishes that needed more than one request before their 201.</summary>
    public long Retried;
    /// <summary>Of those, the ones answered with an earlier request's commit (its answer lost to a kill): deduplicated by the key.</summary>
    public long RetriedCommittedBefore;
    /// <summary>Unkeyed publishes whose request failed: committed or not, the client cannot know (either is allowed).</summary>
    public long Unknown;

    public void Acknowledge(string value, long id)
    {
        long first = Acknowledged.GetOrAdd(value, id);
        if (first != id) Violations.Enqueue($"value {value} was acknowledged twice with different ids, {first} and {id} (a retry committed again)");
    }
}
