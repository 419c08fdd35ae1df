using Akka.Actor;
using Akka.TestKit;
using Repl.Actors.Sharding;
using Repl.Actors.Tests.Specs;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Sharding;

/// <summary>A node's reporter, with a probe as the topics' region.</summary>
public sealed class PresenceReporterSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(ReplSpec.Config(ReplSpec.LocalHocon), "reporter-spec", output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private static readonly PresenceProtocol.Origin Here = new("akka.tcp://repl@127.0.0.1:1", 9);

    private static PresenceProtocol.Client Client(string id) => new(id, "ana", "repl-1", 1_800_000_000_000);

    [Fact]
    public void JoinsAndLeaves_GoToEachTopicsEntity_AsNumberedBatches_AndAResendIsTheWholeSet()
    {
        var region = CreateTestProbe();
        var reporter = Sys.ActorOf(PresenceReporter.Props(region, Here, new PresenceReporter.Options(TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1))));

        reporter.Tell(new PresenceProtocol.Join(Client("c1"), ["a", "b"]));
        reporter.Tell(new PresenceProtocol.Join(Client("c2"), ["a"]));
        var first = new[] { region.ExpectMsg<PresenceProtocol.Deltas>(Wait), region.ExpectMsg<PresenceProtocol.Deltas>(Wait) }.OrderBy(d => d.Topic).ToArray();
        Assert.Equal(("a", 1L, "c1,c2"), (first[0].Topic, first[0].Seq, string.Join(",", first[0].Joins.Select(c => c.Id).Order())));
        Assert.Equal(("b", 1L, "c1"), (first[1].Topic, first[1].Seq, string.Join(",", first[1].Joins.Select(c => c.Id))));
        Assert.Equal(Here, first[0].From);
        Assert.Equal(reporter, region.LastSender);

        // A client that comes and goes within one flush is never told.
        reporter.Tell(new PresenceProtocol.Leave("c1", ["a", "b"]));
        reporter.Tell(new PresenceProtocol.Join(Client("c3"), ["a"]));
        reporter.Tell(new PresenceProtocol.Leave("c3", ["a"]));
        var second = new[] { region.ExpectMsg<PresenceProtocol.Deltas>(Wait), region.ExpectMsg<PresenceProtocol.Deltas>(Wait) }.OrderBy(d => d.Topic).ToArray();
        Assert.Equal(("a", 2L, "", "c1"), (second[0].Topic, second[0].Seq, string.Join(",", second[0].Joins.Select(c => c.Id)), string.Join(",", second[0].Leaves)));
        Assert.Equal(("b", 2L, "c1"), (second[1].Topic, second[1].Seq, string.Join(",", second[1].Leaves)));

        reporter.Tell(new PresenceProtocol.Resend("a"));
        var full = region.ExpectMsg<PresenceProtocol.Full>(Wait);
        Assert.Equal((3L, "c2"), (full.Seq, string.Join(",", full.Clients.Select(c => c.Id))));

        // "b" has no client left: forgotten, so it answers empty at 0, and its next delta starts again at 1.
        reporter.Tell(new PresenceProtocol.Resend("b"));
        Assert.Equal((0L, 0), region.ExpectMsg<PresenceProtocol.Full>(Wait) is var empty ? (empty.Seq, empty.Clients.Length) : default);
        reporter.Tell(new PresenceProtocol.Join(Client("c4"), ["b"]));
        Assert.Equal(1, region.ExpectMsg<PresenceProtocol.Deltas>(Wait).Seq);
    }
}
