using Akka.Actor;
using Akka.Cluster;
using Akka.TestKit;
using Repl.Actors.Sharding;
using Repl.Actors.Tests.Specs;
using Repl.Actors.Topics;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Sharding;

/// <summary>
/// A topic entity's presence on a one-node cluster of itself (as standalone runs): other nodes are origins the spec
/// makes up, except in the removal spec, where a second actor system joins over loopback remoting and leaves.
/// </summary>
/// <remarks>serialize-messages is off, as in the other cluster specs (Akka's own cluster messages are not all round-trippable); the removal spec's messages cross real remoting.</remarks>
public sealed class TopicEntityPresenceSpec : Akka.TestKit.Xunit2.TestKit
{
    private const string ClusterHocon = """
        akka.actor.provider = cluster
        akka.actor.serialize-messages = off
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.cluster.roles = [broker]
        akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
        """;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly PresenceProtocol.Origin NodeB = new("akka.tcp://repl@10.0.0.2:4053", 2);
    private static readonly PresenceProtocol.Origin NodeC = new("akka.tcp://repl@10.0.0.3:4053", 3);

    /// <summary>Batches every 50 ms, a grace of 1 s, counts above 10 clients.</summary>
    private static readonly PresenceProtocol.EventOptions Quick = new(TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1), 10);
    private readonly SpecJournal _journal;
    private readonly TestProbe _reporter;

    public TopicEntityPresenceSpec(ITestOutputHelper output) : this(SpecJournal.Create(), output)
    {
    }

    private TopicEntityPresenceSpec(SpecJournal journal, ITestOutputHelper output)
        : base(ReplSpec.Setup(journal.Journal, ReplSpec.Config(ClusterHocon)), "presence-spec", output)
    {
        _journal = journal;
        var cluster = Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        AwaitCondition(() => cluster.SelfMember.Status == MemberStatus.Up, Wait);
        // This node's reporter, where a starting entity pulls from.
        _reporter = CreateTestProbe();
        Sys.ActorOf(Props.Create(() => new Forward(_reporter.Ref)), PresenceProtocol.ReporterName);
    }

    private static PresenceProtocol.Origin Origin(Akka.Cluster.Cluster cluster) => new(cluster.SelfAddress.ToString(), cluster.SelfUniqueAddress.Uid);

    private static PresenceProtocol.Client Client(string id, string? user = null, string node = "b") => new(id, user, node, 1_800_000_000_000);

    /// <summary>An entity whose start pull this node answers with <paramref name="here"/> (nothing by default).</summary>
    private IActorRef StartedEntity(params PresenceProtocol.Client[] here) => StartedEntity(null, here);

    private IActorRef StartedEntity(PresenceProtocol.EventOptions? events, params PresenceProtocol.Client[] here)
    {
        var entity = Sys.ActorOf(TopicEntity.Props("a", CreateTestProbe(), _journal.Journal, new TopicRegistry(), TimeProvider.System, TimeSpan.FromSeconds(5), events));
        entity.Tell(new PresenceProtocol.Stats("a"));
        _reporter.ExpectMsg<PresenceProtocol.Resend>(Wait);
        entity.Tell(new PresenceProtocol.Full("a", Origin(Akka.Cluster.Cluster.Get(Sys)), here.Length == 0 ? 0 : 1, here));
        ExpectMsg<PresenceProtocol.Counts>(Wait);
        return entity;
    }

    private PresenceProtocol.Client[] List(IActorRef entity, string? after = null, int limit = 100)
    {
        entity.Tell(new PresenceProtocol.List("a", after, limit));
        return ExpectMsg<PresenceProtocol.Page>(Wait).Clients;
    }

    private static string Ids(PresenceProtocol.Client[] clients) => string.Join(",", clients.Select(client => client.Id));

    private static string Changes(PresenceProtocol.Events events) =>
        string.Join(",", events.Changes.Select(change => (change.Joined ? "+" : "-") + change.Client + (change.User is null ? "" : " " + change.User)));

    /// <summary>A probe as node B's reporter, watching the topic with one stream (w1 of wendy): its first batch is the counts alone.</summary>
    private TestProbe Watcher(IActorRef entity, PresenceProtocol.Origin origin, string client)
    {
        var watcher = CreateTestProbe();
        entity.Tell(new PresenceProtocol.Deltas("a", origin, 1, [Client(client, "wendy")], [], Watching: true), watcher);
        var first = watcher.ExpectMsg<PresenceProtocol.Events>(Wait);
        Assert.Equal(("", true), (Changes(first), first.TellCounts));
        // Its own stream's join is applied: that stream starts from these counts.
        Assert.Equal(1, first.Applied);
        return watcher;
    }

    [Fact]
    public void Watchers_AreToldJoinsAtOnce_AndLeavesAfterTheGrace_WithTheCountsAsTold()
    {
        var entity = StartedEntity(Quick);
        var watcher = Watcher(entity, NodeB, "w1");

        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 1, [Client("c1", "ana"), Client("c2")], []));
        var joined = watcher.ExpectMsg<PresenceProtocol.Events>(Wait);
        Assert.Equal(("+c1 ana,+c2", 3, 2, false), (string.Join(",", Changes(joined).Split(',').Order()), joined.Clients, joined.Users, joined.TellCounts));

        // c2 leaves: held for the grace. A join meanwhile is told before it, and c2 still counts as told...
        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 2, [], ["c2"]));
        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 3, [Client("c3")], []));
        var meanwhile = watcher.ExpectMsg<PresenceProtocol.Events>(Wait);
        Assert.Equal(("+c3", 4), (Changes(meanwhile), meanwhile.Clients));
        // ... while the routes are exact.
        entity.Tell(new PresenceProtocol.Stats("a"));
        Assert.Equal(3, ExpectMsg<PresenceProtocol.Counts>(Wait).Clients);

        var left = watcher.ExpectMsg<PresenceProtocol.Events>(Wait);
        Assert.Equal(("-c2", 3, 2), (Changes(left), left.Clients, left.Users));
    }

    [Fact]
    public void ASameUserReconnectWithinTheGrace_IsNotTold_AnAnonymousLeaveIsAfterIt()
    {
        var entity = StartedEntity(Quick);
        var watcher = Watcher(entity, NodeB, "w1");
        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 1, [Client("c1", "ana"), Client("c2")], []));
        Assert.Equal(2, watcher.ExpectMsg<PresenceProtocol.Events>(Wait).Changes.Length);

        // ana's stream drops and comes back as a new client (c4); an anonymous one (c2) drops for good.
        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 2, [], ["c1", "c2"]));
        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 3, [Client("c4", "ana")], []));
        // Neither c1's leave nor c4's join is ever told; c2's leave is, after the grace.
        var next = watcher.ExpectMsg<PresenceProtocol.Events>(Wait);
        Assert.Equal(("-c2", 2, 2), (Changes(next), next.Clients, next.Users));
        entity.Tell(new PresenceProtocol.List("a", null, 10));
        Assert.Equal("c4,w1", Ids(ExpectMsg<PresenceProtocol.Page>(Wait).Clients));
    }

    [Fact]
    public void AboveUpTo_CountsAreToldInsteadOfJoinsAndLeaves_AndOnceMoreBackUnderIt()
    {
        var entity = StartedEntity(Quick with { UpTo = 3 });
        var watcher = Watcher(entity, NodeB, "w1");

        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 1, [Client("c1"), Client("c2"), Client("c3")], []));
        var over = watcher.ExpectMsg<PresenceProtocol.Events>(Wait);
        Assert.Equal(("", true, 4, 1), (Changes(over), over.TellCounts, over.Clients, over.Users));
        // A count that changed is told again (at most once a second).
        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 2, [Client("c5")], []));
        var more = watcher.ExpectMsg<PresenceProtocol.Events>(Wait);
        Assert.Equal(("", true, 5), (Changes(more), more.TellCounts, more.Clients));

        // Back under (once the leaves' grace is over): the counts once more, then joins and leaves again.
        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 3, [], ["c1", "c2", "c3"]));
        var under = watcher.ExpectMsg<PresenceProtocol.Events>(Wait);
        Assert.Equal(("", true, 2), (Changes(under), under.TellCounts, under.Clients));
        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 4, [Client("c6")], []));
        var again = watcher.ExpectMsg<PresenceProtocol.Events>(Wait);
        Assert.Equal(("+c6", false, 3), (Changes(again), again.TellCounts, again.Clients));
    }

    [Fact]
    public void AWatcherThatNoLongerWatches_IsToldNothingMore()
    {
        var entity = StartedEntity(Quick);
        var gone = Watcher(entity, NodeB, "w1");
        var stays = Watcher(entity, NodeC, "w2");
        Assert.Single(gone.ExpectMsg<PresenceProtocol.Events>(Wait).Changes); // +w2

        // Node B's last ?presence=1 stream ended (its heartbeat says so); node C still watches.
        entity.Tell(new PresenceProtocol.Heartbeat("a", NodeB, 1, Watching: false), gone);
        entity.Tell(new PresenceProtocol.Deltas("a", NodeC, 2, [Client("c1")], [], Watching: true), stays);
        var told = stays.ExpectMsg<PresenceProtocol.Events>(Wait);
        Assert.Equal(("+c1", 2L), (Changes(told), told.Applied));
        gone.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public void JoinsAndLeaves_AreListedByClientId_PagedAndCounted()
    {
        var entity = StartedEntity(Client("c5", "bo", node: "here"));
        entity.Tell(new PresenceProtocol.Deltas("a", NodeB, 1, [Client("c3", "ana"), Client("c1", "ana"), Client("c2")], []));
        Assert.Equal("c1,c2,c3,c5", Ids(List(entity)));
        Assert.Equal("b", List(entity)[0].Node);
        entity.Tell(new PresenceProtocol.Stats("a"));
        Assert.Equal(new PresenceProtocol.Counts(4, 2), ExpectMsg<PresenceProtocol.Counts>(Wait));

        Assert.Equal("c1,c2", Ids(List(entity, limit: 2)));
        Assert.Equal("c3,c5", Ids(List(entity, after: "c2", limit: 2)));
        Assert.Equal("c3", Ids(List(entity, after: "c20", limit: 1)));
        Assert.Empty(List(entity, after: "c5"));

        entity.Tell(new PresenceProtocol.Deltas("a", NodeB, 2, [], ["c1", "c3"]));
        Assert.Equal("c2,c5", Ids(List(entity)));
        entity.Tell(new PresenceProtocol.Stats("a"));
        Assert.Equal(new PresenceProtocol.Counts(2, 1), ExpectMsg<PresenceProtocol.Counts>(Wait));
    }

    [Fact]
    public void AGap_AsksTheNodeForItsFullSet_WhichReplacesWhatTheEntityHeld()
    {
        var entity = StartedEntity();
        entity.Tell(new PresenceProtocol.Deltas("a", NodeB, 1, [Client("c1")], []));
        // Delta 2 was lost: 3 does not follow.
        entity.Tell(new PresenceProtocol.Deltas("a", NodeB, 3, [Client("c3")], []));
        Assert.Equal("a", ExpectMsg<PresenceProtocol.Resend>(Wait).Topic);
        Assert.Equal("c1", Ids(List(entity)));

        entity.Tell(new PresenceProtocol.Full("a", NodeB, 4, [Client("c2"), Client("c3")]));
        Assert.Equal("c2,c3", Ids(List(entity)));
        // A delta sent before the full set, arriving after it, changes nothing; the next one applies.
        entity.Tell(new PresenceProtocol.Deltas("a", NodeB, 3, [Client("c9")], []));
        entity.Tell(new PresenceProtocol.Deltas("a", NodeB, 5, [], ["c2"]));
        Assert.Equal("c3", Ids(List(entity)));

        // A heartbeat where the entity is: nothing; one ahead of it: a resend.
        entity.Tell(new PresenceProtocol.Heartbeat("a", NodeB, 5));
        entity.Tell(new PresenceProtocol.Heartbeat("a", NodeB, 6));
        ExpectMsg<PresenceProtocol.Resend>(Wait);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // The node restarted (another incarnation): its numbering starts again from empty.
        entity.Tell(new PresenceProtocol.Deltas("a", NodeB with { Incarnation = 3 }, 1, [Client("c7")], []));
        Assert.Equal("c7", Ids(List(entity)));
    }

    [Fact]
    public void AnEntityThatStartsAgain_RebuildsFromTheBrokers_AndQueriesWaitForThem()
    {
        var first = StartedEntity();
        first.Tell(new PresenceProtocol.Deltas("a", NodeB, 1, [Client("c1")], []));
        Assert.Equal("c1", Ids(List(first)));
        Watch(first);
        first.Tell(PoisonPill.Instance);
        ExpectTerminated(first);

        // Passivated, moved or restarted: a new entity holds nothing until this node's reporter answers its pull.
        var again = Sys.ActorOf(TopicEntity.Props("a", CreateTestProbe(), _journal.Journal, new TopicRegistry(), TimeProvider.System, TimeSpan.FromSeconds(5)));
        again.Tell(new PresenceProtocol.List("a", null, 100));
        var pull = _reporter.ExpectMsg<PresenceProtocol.Resend>(Wait);
        Assert.Equal("a", pull.Topic);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        _reporter.Reply(new PresenceProtocol.Full("a", Origin(Akka.Cluster.Cluster.Get(Sys)), 4, [Client("c4", node: "here")]));
        Assert.Equal("c4", Ids(ExpectMsg<PresenceProtocol.Page>(Wait).Clients));
        // Node B, not a member, was not pulled: its clients come back with its next delta, which asks for its set.
        again.Tell(new PresenceProtocol.Heartbeat("a", NodeB, 1));
        ExpectMsg<PresenceProtocol.Resend>(Wait);
        again.Tell(new PresenceProtocol.Full("a", NodeB, 2, [Client("c1")]));
        Assert.Equal("c1,c4", Ids(List(again)));
    }

    [Fact]
    public void ANodeRemovedFromTheCluster_TakesItsClientsWithIt()
    {
        var second = ReplSpec.System("presence-spec", _journal.Journal, ReplSpec.Config(ClusterHocon));
        try
        {
            var secondReporter = CreateTestProbe();
            second.ActorOf(Props.Create(() => new Forward(secondReporter.Ref)), PresenceProtocol.ReporterName);
            Akka.Cluster.Cluster.Get(second).Join(Akka.Cluster.Cluster.Get(Sys).SelfAddress);
            AwaitCondition(() => Akka.Cluster.Cluster.Get(Sys).State.Members.Count(member => member.Status == MemberStatus.Up) == 2, Wait);

            var entity = Sys.ActorOf(TopicEntity.Props("a", CreateTestProbe(), _journal.Journal, new TopicRegistry(), TimeProvider.System, TimeSpan.FromSeconds(5)));
            entity.Tell(new PresenceProtocol.Stats("a"));
            // Both brokers are pulled; the second answers over remoting, through ReplSerializer.
            _reporter.ExpectMsg<PresenceProtocol.Resend>(Wait);
            _reporter.Reply(new PresenceProtocol.Full("a", Origin(Akka.Cluster.Cluster.Get(Sys)), 1, [Client("c1", node: "one")]));
            secondReporter.ExpectMsg<PresenceProtocol.Resend>(Wait);
            secondReporter.Reply(new PresenceProtocol.Full("a", Origin(Akka.Cluster.Cluster.Get(second)), 1, [Client("c2", node: "two"), Client("c3", node: "two")]));
            Assert.Equal(3, ExpectMsg<PresenceProtocol.Counts>(Wait).Clients);

            Akka.Cluster.Cluster.Get(Sys).Leave(Akka.Cluster.Cluster.Get(second).SelfAddress);
            AwaitAssert(() => Assert.Equal("c1", Ids(List(entity))), Wait, TimeSpan.FromMilliseconds(100));
        }
        finally
        {
            Shutdown(second, TimeSpan.FromSeconds(10), verifySystemShutdown: false);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _journal.Dispose();
    }

    /// <summary>Stands at a reporter's path and passes what it gets on to a probe, sender kept.</summary>
    private sealed class Forward : ReceiveActor
    {
        public Forward(IActorRef to) => ReceiveAny(message => to.Forward(message));
    }
}
