using System.Text;
using Akka.Actor;
using Repl.Actors.Log;
using Repl.Actors.Reader;
using Repl.Actors.Sequencer;
using Repl.Actors.Sharding;
using Repl.Actors.Storage;
using Repl.Actors.Tests.Specs;
using Repl.Actors.Topics;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Sharding;

/// <summary>
/// A topic's settings: changed through its entity, merged and committed by the real sequencer, applied by the node's
/// log reader and kept by the real SQLite journal; recovered by a new sequencer and a new registry; enforced at the cut
/// (publishRate) and by retention (its own limits).
/// </summary>
public sealed class TopicSettingsSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SpecJournal _journal;
    private readonly TopicRegistry _registry = new();
    private readonly IActorRef _reader;
    private readonly ManualTime _time = new();

    public TopicSettingsSpec(ITestOutputHelper output) : this(SpecJournal.Create(maxMessagesPerTopic: 2), output)
    {
    }

    private TopicSettingsSpec(SpecJournal journal, ITestOutputHelper output)
        : base(ReplSpec.Setup(journal.Journal, ReplSpec.Config(ReplSpec.LocalHocon)), "topic-settings-spec", output)
    {
        _journal = journal;
        _reader = Sys.ActorOf(LogReader.Props(_registry, new TopicsOptions(), journal.Journal, replica: false), "reader");
    }

    private IActorRef Sequencer(int snapshotEvery = 10_000) =>
        Sys.ActorOf(SequencerActor.Props(new SequencerProtocol.Settings(4096, snapshotEvery, _reader), _time));

    private IActorRef Entity(string topic, IActorRef sequencer) =>
        Sys.ActorOf(TopicEntity.Props(topic, sequencer, _journal.Journal, _registry, _time, TimeSpan.FromSeconds(5)));

    private long Change(IActorRef entity, TopicProtocol.ICommand command)
    {
        entity.Tell(command);
        return ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position;
    }

    private static TopicProtocol.Configure Configure(string topic, TopicSettings settings, TopicSettingsFields fields) => new(topic, settings, fields);

    /// <summary>One request's publishes: adjacent, one topic, one createdAt.</summary>
    private static PublishCommand[] Request(string topic, long createdAtMs, int count = 1) =>
        [.. Enumerable.Range(0, count).Select(i => new PublishCommand(topic, Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), createdAtMs))];

    private long[] Publish(IActorRef sequencer, params PublishCommand[] commands)
    {
        sequencer.Tell(new SequencerProtocol.Publish(1, commands, _time.GetUtcNow().AddMinutes(1).ToUnixTimeMilliseconds()));
        return ExpectMsg<SequencerProtocol.Committed>(Wait).Positions;
    }

    private TopicHub Hub(string topic)
    {
        Assert.True(_registry.TryGet(topic, out var hub));
        return hub;
    }

    [Fact]
    public async Task Configure_IsMergedAndCommittedThroughTheLog_AppliedToTheHub_AndKeptByTheJournal()
    {
        var entity = Entity("a", Sequencer());
        Assert.Equal(1, Change(entity, new TopicProtocol.Create("a")));

        Assert.Equal(2, Change(entity, Configure("a", new TopicSettings(PublishRate: 5, Presence: true), TopicSettingsFields.PublishRate | TopicSettingsFields.Presence)));
        await _registry.WaitAppliedAsync(2).WaitAsync(Wait);
        Assert.Equal(new TopicSettings(PublishRate: 5, Presence: true), Hub("a").Settings);

        // A change names what it sets, null included (back to the node's); the rest stays.
        Assert.Equal(3, Change(entity, Configure("a", new TopicSettings(MaxMessageBytes: 100), TopicSettingsFields.MaxMessageBytes | TopicSettingsFields.Presence)));
        await _registry.WaitAppliedAsync(3).WaitAsync(Wait);
        var expected = new TopicSettings(MaxMessageBytes: 100, PublishRate: 5);
        Assert.Equal(expected, Hub("a").Settings);

        // Logged whole, and the journal keeps them on the topic: what a node that starts again loads.
        var logged = _journal.Journal.ReadLog(0, long.MaxValue, 10).Last();
        Assert.Equal((LogEntryKind.Settings, 1L), (logged.Kind, logged.Through));
        Assert.Equal(expected, TopicSettings.FromJson(logged.Message));
        Assert.Equal(expected, TopicSettings.FromJson(Assert.Single(_journal.Journal.LoadTopics()).SettingsJson));
        Assert.True(TopicRegistry.Load(_journal.Journal, new TopicsOptions()).TryGet("a", out var loaded));
        Assert.Equal(expected, loaded.Settings);
    }

    [Fact]
    public void Configure_OfAnUnknownTopic_IsAnsweredZero_AndLogsNothing()
    {
        var entity = Entity("nope", Sequencer());
        Assert.Equal(0, Change(entity, Configure("nope", new TopicSettings(Presence: true), TopicSettingsFields.Presence)));
        Assert.Equal(0, _journal.Journal.LastPosition);
    }

    [Fact]
    public async Task Delete_DropsTheSettings_ATopicCreatedAgainStartsWithNone()
    {
        var sequencer = Sequencer();
        var entity = Entity("a", sequencer);
        Change(entity, new TopicProtocol.Create("a"));
        Change(entity, Configure("a", new TopicSettings(PublishRate: 1), TopicSettingsFields.PublishRate));
        Change(entity, new TopicProtocol.Delete("a"));
        long created = Change(entity, new TopicProtocol.Create("a"));
        await _registry.WaitAppliedAsync(created).WaitAsync(Wait);

        Assert.Equal(TopicSettings.None, Hub("a").Settings);
        Assert.Empty(Assert.Single(_journal.Journal.LoadTopics()).SettingsJson);
        // No rate left at the sequencer either: two requests in a row both commit.
        Assert.All(Publish(sequencer, [.. Request("a", 1), .. Request("a", 2)]), position => Assert.True(position > 0));
    }

    [Fact]
    public void PublishRate_RefusesWholeRequestsOverIt_AtTheCut_AndLogsNothingOfThem()
    {
        var sequencer = Sequencer();
        var a = Entity("a", sequencer);
        Change(a, new TopicProtocol.Create("a"));
        Change(Entity("b", sequencer), new TopicProtocol.Create("b"));
        Change(a, Configure("a", new TopicSettings(PublishRate: 1), TopicSettingsFields.PublishRate));
        long head = _journal.Journal.LastPosition;

        // One publish per second, a second's worth at once: the first request is taken whole (three publishes, the
        // bucket goes into debt), the next one to "a" is refused whole; "b" has no rate.
        var positions = Publish(sequencer, [.. Request("a", 1, count: 3), .. Request("b", 1), .. Request("a", 2, count: 2)]);
        Assert.Equal([head + 1, head + 2, head + 3, head + 4, SequencerProtocol.OverRate, SequencerProtocol.OverRate], positions);
        Assert.Equal(head + 4, _journal.Journal.LastPosition);

        // Still in debt one second later (three taken, one a second); free again once it is paid back.
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([SequencerProtocol.OverRate], Publish(sequencer, Request("a", 3)));
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal([head + 5], Publish(sequencer, Request("a", 4)));
    }

    [Fact]
    public async Task Settings_SurviveANewIncarnation_FromTheJournal_AndFromTheTailAfterTheSnapshot()
    {
        var first = Sequencer(snapshotEvery: 3);
        Change(Entity("a", first), new TopicProtocol.Create("a"));
        Change(Entity("a", first), Configure("a", new TopicSettings(PublishRate: 1), TopicSettingsFields.PublishRate));
        Change(Entity("b", first), new TopicProtocol.Create("b"));
        // The snapshot at 3 holds no state: "a"'s rate comes back from the journal's topics table, "b"'s from the replay.
        AwaitAssert(() => Assert.Equal(3, _journal.Journal.Snapshots.Load(SequencerActor.LogPersistenceId, long.MaxValue, long.MaxValue)?.SequenceNr), Wait);
        long last = Change(Entity("b", first), Configure("b", new TopicSettings(PublishRate: 1, Presence: true), TopicSettingsFields.PublishRate | TopicSettingsFields.Presence));
        await _registry.WaitAppliedAsync(last).WaitAsync(Wait);
        Watch(first);
        first.Tell(SequencerProtocol.Drain.Instance);
        ExpectTerminated(first, Wait);

        var second = Sequencer(snapshotEvery: 3);
        var positions = Publish(second, [.. Request("a", 1), .. Request("a", 2), .. Request("b", 1), .. Request("b", 2)]);
        Assert.Equal([last + 1, SequencerProtocol.OverRate, last + 2, SequencerProtocol.OverRate], positions);
        // And a settings change after the restart merges into what was recovered.
        Assert.True(Change(Entity("b", second), Configure("b", new TopicSettings(MaxMessageBytes: 10), TopicSettingsFields.MaxMessageBytes)) > 0);
        var b = _journal.Journal.LoadTopics().Single(topic => topic.Name == "b");
        Assert.Equal(new TopicSettings(MaxMessageBytes: 10, PublishRate: 1, Presence: true), TopicSettings.FromJson(b.SettingsJson));
    }

    [Fact]
    public async Task Retention_UsesTheTopicsOwnLimits_WhereSet_ElseTheNodes()
    {
        var sequencer = Sequencer();
        foreach (var topic in new[] { "own", "node", "all" }) Change(Entity(topic, sequencer), new TopicProtocol.Create(topic));
        Change(Entity("own", sequencer), Configure("own", new TopicSettings(MaxMessages: 4), TopicSettingsFields.MaxMessages));
        Change(Entity("all", sequencer), Configure("all", new TopicSettings(MaxMessages: 0), TopicSettingsFields.MaxMessages));
        var positions = Publish(sequencer, [.. new[] { "own", "node", "all" }.SelectMany(topic => Request(topic, 1, count: 6))]);
        await _registry.WaitAppliedAsync(positions.Max()).WaitAsync(Wait);

        // The node keeps 2 (Journal:MaxMessagesPerTopic), "own" 4, "all" everything.
        Assert.Equal(["node", "own"], _journal.Journal.Retention.TopicsOver(_time.GetUtcNow()));
        foreach (var topic in new[] { "own", "node", "all" })
        {
            long at = Change(Entity(topic, sequencer), new TopicProtocol.Retain(topic));
            await _registry.WaitAppliedAsync(at).WaitAsync(Wait);
        }
        Assert.Equal(4, _journal.Journal.Stats("own").Messages);
        Assert.Equal(2, _journal.Journal.Stats("node").Messages);
        Assert.Equal(6, _journal.Journal.Stats("all").Messages);
        Assert.Empty(_journal.Journal.Retention.TopicsOver(_time.GetUtcNow()));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _journal.Dispose();
    }

    /// <summary>Time that moves only when told: the rate's refill is measured on it.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UtcNow;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
