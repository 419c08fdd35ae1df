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
    /// <param name="Watching">The node has streams opened with <c>?presence=1</c> on the topic: the entity tells it the topic's changes (<see cref="Events"/>).</param>
    public sealed record Deltas(string Topic, Origin From, long Seq, Client[] Joins, string[] Leaves, bool Watching = false) : TopicProtocol.ICommand;

    /// <summary>A node's whole set of clients on one topic, at <paramref name="Seq"/> (node → entity, after a pull or a resend).</summary>
    public sealed record Full(string Topic, Origin From, long Seq, Client[] Clients, bool Watching = false) : TopicProtocol.ICommand;

    /// <summary>
    /// "Still here, at <paramref name="Seq"/>": sent now and then for every topic a node has clients on, so the entity
    /// notices a lost delta and does not passivate while it has clients.
    /// </summary>
    public sealed record Heartbeat(string Topic, Origin From, long Seq, bool Watching = false) : TopicProtocol.ICommand;

    /// <summary>One join or leave as the streams tell it (<c>event: join</c>, <c>event: leave</c>).</summary>
    public readonly record struct Change(bool Joined, string Client, string? User);

    /// <summary>
    /// Entity → a watching node's reporter, every ~250 ms while there is something to tell: the topic's joins and leaves
    /// since the last batch (none while the topic has more clients than <see cref="EventOptions.UpTo"/>), then its counts as
    /// told (a client whose leave is held for its grace still counts).
    /// </summary>
    /// <param name="Applied">How far the entity has applied this node's own numbering (<see cref="Deltas.Seq"/>): the node's streams whose joins are at or below it are counted.</param>
    /// <param name="TellCounts">Say the counts to the streams (<c>event: presence</c>): the node is a new watcher, or the topic is above
    /// <see cref="EventOptions.UpTo"/> and a count changed, or it just came back under it.</param>
    public sealed record Events(string Topic, long Applied, Change[] Changes, int Clients, int Users, bool TellCounts) : IReplMessage;

    /// <summary>How a topic's entity tells its watchers.</summary>
    /// <param name="Flush">How often it sends them what changed (as the nodes' deltas, ~250 ms).</param>
    /// <param name="Grace">How long a leave is held before it is told (<c>Topics:PresenceLeaveGrace</c>).</param>
    /// <param name="UpTo">Above this many clients, counts instead of joins and leaves, at most once a second (<c>Topics:PresenceEventsUpTo</c>).</param>
    public sealed record EventOptions(TimeSpan Flush, TimeSpan Grace, int UpTo)
    {
        /// <summary>250 ms, 5 s, 100: the node's defaults.</summary>
        public static readonly EventOptions Default = new(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5), 100);
    }

    /// <summary>Above <see cref="EventOptions.UpTo"/>, counts are told at most this often.</summary>
    public static readonly TimeSpan CountsEvery = TimeSpan.FromSeconds(1);

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
    /// <param name="Watching">Opened with <c>?presence=1</c>: it reads the topics' joins and leaves.</param>
    public sealed record Join(Client Client, string[] Topics, bool Watching = false) : INoSerializationVerificationNeeded;

    /// <summary>A stream ended (node-local, host → reporter).</summary>
    public sealed record Leave(string Client, string[] Topics, bool Watching = false) : INoSerializationVerificationNeeded;

    /// <summary>Typed key of the node's reporter in Akka.Hosting's actor registry.</summary>
    public sealed class ReporterKey;
}
