using Akka.Actor;
using Repl.Actors.Messages;

namespace Repl.Actors.Sharding;

/// <summary>
/// Presence: who reads a topic, across the cluster. Each node's <see cref="PresenceReporter"/> tells each topic's
/// entity (<see cref="TopicEntity"/>) the joins and leaves of its streams; the entity holds the topic's clients and
/// answers the routes.
/// </summary>
/// <remarks>
/// <para><b>Numbered deltas.</b> A node's changes to one topic are numbered per (node incarnation, sequence): a delta
/// the entity cannot place (a gap, another incarnation) makes it ask that node for the topic's full set
/// (<see cref="Resend"/>), answered <see cref="Full"/>. Sequence 1 always starts from an empty set, so a node that
/// forgot a topic whose last client left starts its numbering again.</para>
/// <para><b>Never persisted.</b> An entity that starts (first use, a rebalance, a restart) pulls the full set from every
/// broker; a node removed from the cluster takes its clients with it.</para>
/// </remarks>
public static class PresenceProtocol
{
    /// <summary>The name of each node's <see cref="PresenceReporter"/> under <c>/user</c>, where entities pull from.</summary>
    public const string ReporterName = "presence";

    /// <summary>
    /// How long a query waits for the brokers' sets after its entity started; a broker that has not answered by then is
    /// asked again when its next delta or heartbeat does not follow.
    /// </summary>
    public static readonly TimeSpan PullWait = TimeSpan.FromSeconds(2);

    /// <summary>One stream reading the topic.</summary>
    /// <param name="Id">The stream's client id, unique in the cluster.</param>
    /// <param name="User">The token's <c>sub</c> or the subscribe hook's user; null without either.</param>
    /// <param name="Node">The name (<c>Node:Id</c>) of the node holding the stream.</param>
    /// <param name="SinceMs">When the stream opened, unix milliseconds.</param>
    public sealed record Client(string Id, string? User, string Node, long SinceMs);

    /// <summary>Where a node's numbering comes from: its cluster address and the incarnation (uid) of its actor system.</summary>
    public readonly record struct Origin(string Address, long Incarnation);

    /// <summary>A node's joins and leaves on one topic since its last delta (node → entity, every ~250 ms).</summary>
    public sealed record Deltas(string Topic, Origin From, long Seq, Client[] Joins, string[] Leaves) : TopicProtocol.ICommand;

    /// <summary>A node's whole set of clients on one topic, at <paramref name="Seq"/> (node → entity, after a pull or a resend).</summary>
    public sealed record Full(string Topic, Origin From, long Seq, Client[] Clients) : TopicProtocol.ICommand;

    /// <summary>
    /// "Still here, at <paramref name="Seq"/>": sent now and then for every topic a node has clients on, so the entity
    /// notices a lost delta and does not passivate while it has clients.
    /// </summary>
    public sealed record Heartbeat(string Topic, Origin From, long Seq) : TopicProtocol.ICommand;

    /// <summary>Entity → node: send your full set of <paramref name="Topic"/>'s clients (answered <see cref="Full"/> to the sender).</summary>
    public sealed record Resend(string Topic) : IReplMessage;

    /// <summary>A page of the topic's clients, ordered by client id, after <paramref name="After"/>; answered <see cref="Page"/>.</summary>
    public sealed record List(string Topic, string? After, int Limit) : TopicProtocol.ICommand;

    /// <summary>The clients of a page, and how many the topic has.</summary>
    public sealed record Page(Client[] Clients, int Total) : IReplMessage;

    /// <summary>The topic's counts; answered <see cref="Counts"/>.</summary>
    public sealed record Stats(string Topic) : TopicProtocol.ICommand;

    /// <summary>How many clients the topic has, and how many distinct users among them (clients without a user not counted).</summary>
    public sealed record Counts(int Clients, int Users) : IReplMessage;

    /// <summary>A stream opened (node-local, host → reporter).</summary>
    public sealed record Join(Client Client, string[] Topics) : INoSerializationVerificationNeeded;

    /// <summary>A stream ended (node-local, host → reporter).</summary>
    public sealed record Leave(string Client, string[] Topics) : INoSerializationVerificationNeeded;

    /// <summary>Typed key of the node's reporter in Akka.Hosting's actor registry.</summary>
    public sealed class ReporterKey;
}
