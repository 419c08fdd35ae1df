using Akka.Actor;
using Akka.TestKit;
using Repl.Actors.Sharding;
using Repl.Actors.Tests.Specs;
using Repl.Actors.Topics;
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

    [Fact]
    public void AWatchedTopic_SaysSo_AndTheEntitysBatchGoesIntoItsFeed_WithTheStreamsItCounted()
    {
        var region = CreateTestProbe();
        var registry = new TopicRegistry();
        var hub = new TopicHub("a", 1, 0, 16, 1);
        registry.Add(hub);
        var reporter = Sys.ActorOf(PresenceReporter.Props(region, Here, new PresenceReporter.Options(TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1)), registry));
        // What the stream route does: the stream's place in the feed, then its join.
        long from = hub.Presence.Version;
        reporter.Tell(new PresenceProtocol.Join(Client("w1"), ["a"], Watching: true));
        var deltas = region.ExpectMsg<PresenceProtocol.Deltas>(Wait);
        Assert.Equal((1L, true), (deltas.Seq, deltas.Watching));

        // A batch before the entity applied that delta does not count w1; the next one does.
        reporter.Tell(new PresenceProtocol.Events("a", 0, [new PresenceProtocol.Change(true, "c9", null)], 1, 0, TellCounts: true));
        reporter.Tell(new PresenceProtocol.Events("a", 1, [new PresenceProtocol.Change(true, "w1", "ana")], 2, 1, TellCounts: false));
        AwaitCondition(() => hub.Presence.Version == from + 4, Wait);
        var feed = hub.Presence;
        Assert.False(feed.TryFindCounted(from, from + 2, "w1"));
        Assert.True(feed.TryFindCounted(from, feed.Version, "w1"));
        var events = new List<byte[]>();
        Assert.True(feed.TryRead(from, feed.Version, "w1", events));
        Assert.Equal(
            new[] { "event: join\ndata: {\"topic\":\"a\",\"client\":\"c9\",\"user\":null}\n\n", "event: presence\ndata: {\"topic\":\"a\",\"clients\":1,\"users\":0}\n\n" },
            events.Select(bytes => System.Text.Encoding.UTF8.GetString(bytes)));
        Assert.Equal("event: presence\ndata: {\"topic\":\"a\",\"clients\":2,\"users\":1}\n\n", System.Text.Encoding.UTF8.GetString(feed.Snapshot!.Bytes));

        // The last watching stream leaves: the next delta says the node no longer watches.
        reporter.Tell(new PresenceProtocol.Leave("w1", ["a"], Watching: true));
        Assert.False(region.ExpectMsg<PresenceProtocol.Deltas>(Wait).Watching);
    }
}
