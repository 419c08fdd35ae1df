using Akka.Actor;
using Repl.Actors.Sharding;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Cluster;

/// <summary>
/// Presence across three actor systems over loopback remoting: each node's reporter, the topics' shard region, the
/// entities wherever they live, through ReplSerializer (Repl.Cluster.Tests checks the same with broker processes).
/// </summary>
public sealed class ClusterPresenceSpec(ITestOutputHelper output) : InProcessClusterSpec("akka.actor.serialize-messages = off", output)
{
    /// <summary>
    /// How long a join or a leave may take to be seen through another node before the spec gives up: issue 25's 2 s is
    /// what the cluster test with real processes measures (ClusterPresenceTests), not a wall-clock bound asserted on a
    /// shared machine.
    /// </summary>
    private static readonly TimeSpan Visible = TimeSpan.FromSeconds(10);

    [Fact]
    public void AJoinAndALeaveOnOneNode_AreSeenThroughAnotherNode()
    {
        Within(Bound, () =>
        {
            StartCluster();
            var reporters = _nodes.Select((node, i) =>
            {
                var self = Akka.Cluster.Cluster.Get(node.System).SelfUniqueAddress;
                return node.System.ActorOf(PresenceReporter.Props(node.Topics, new PresenceProtocol.Origin(self.Address.ToString(), self.Uid),
                    new PresenceReporter.Options(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(30))), PresenceProtocol.ReporterName);
            }).ToArray();
            var asker = ProbeOn(_nodes[1]);
            string[] Listed(string topic)
            {
                _nodes[1].Topics.Tell(new PresenceProtocol.List(topic, null, 100), asker);
                return [.. asker.ExpectMsg<PresenceProtocol.Page>(Wait).Clients.Select(client => client.Id)];
            }

            // Several topics, so some entities live on another node than the stream's and the asker's.
            var topics = Enumerable.Range(1, 6).Select(i => $"room-{i}").ToArray();
            foreach (var topic in topics) Assert.Empty(Listed(topic)); // started: each pulled every node's (empty) set
            reporters[2].Tell(new PresenceProtocol.Join(new PresenceProtocol.Client("c1", "ana", "three", 1), topics));
            foreach (var topic in topics) AwaitAssert(() => Assert.Equal(["c1"], Listed(topic)), Visible, TimeSpan.FromMilliseconds(50));

            reporters[2].Tell(new PresenceProtocol.Leave("c1", topics));
            foreach (var topic in topics) AwaitAssert(() => Assert.Empty(Listed(topic)), Visible, TimeSpan.FromMilliseconds(50));
        });
    }
}
