using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Reader;
using Repl.Actors.Sequencer;
using Repl.Actors.Sharding;
using Repl.Actors.Tests.Specs;
using Repl.Actors.Topics;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Sharding;

/// <summary>A topic's entity with a probe as the sequencer, then with the real sequencer and log reader behind it.</summary>
public sealed class TopicEntitySpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SpecJournal _journal;
    private readonly TopicRegistry _registry = new();
    private readonly IActorRef _reader;

    public TopicEntitySpec(ITestOutputHelper output) : this(SpecJournal.Create(maxMessagesPerTopic: 2), output)
    {
    }

    private TopicEntitySpec(SpecJournal journal, ITestOutputHelper output)
        : base(ReplSpec.Setup(journal.Journal, ReplSpec.Config(ReplSpec.LocalHocon)), "topic-entity-spec", output)
    {
        _journal = journal;
        _reader = Sys.ActorOf(LogReader.Props(_registry, new TopicsOptions(), journal.Journal, replica: false), "reader");
    }

    private IActorRef Entity(string topic, IActorRef sequencer) =>
        Sys.ActorOf(TopicEntity.Props(topic, sequencer, _journal.Journal, _registry, TimeProvider.System, TimeSpan.FromSeconds(5)));

    private IActorRef RealSequencer() =>
        Sys.ActorOf(SequencerActor.Props(new SequencerProtocol.Settings(4096, 10_000, _reader), TimeProvider.System));

    private static LogEntry Published(long position, string topic) =>
        new(position, LogEntryKind.Publish, topic, MessageJson.WithId(position, Encoding.UTF8.GetBytes("{}")), 0);

    [Fact]
    public void CreateAndDelete_AreForwarded_AndTheSequencerAnswersTheOriginalAsker()
    {
        var sequencer = CreateTestProbe();
        var asker = CreateTestProbe();
        var entity = Entity("a", sequencer);

        entity.Tell(new TopicProtocol.Create("a"), asker);
        var create = sequencer.ExpectMsg<SequencerProtocol.ChangeTopic>(Wait);
        Assert.Equal(LogEntryKind.CreateTopic, create.Kind);
        Assert.Equal("a", create.Topic);
        Assert.True(create.DeadlineMs > DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        Assert.Equal(asker.Ref, sequencer.LastSender);
        sequencer.Reply(new SequencerProtocol.TopicChanged("a", 1));
        Assert.Equal(1, asker.ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position);

        entity.Tell(new TopicProtocol.Delete("a"), asker);
        Assert.Equal(LogEntryKind.DeleteTopic, sequencer.ExpectMsg<SequencerProtocol.ChangeTopic>(Wait).Kind);
        Assert.Equal(asker.Ref, sequencer.LastSender);
    }

    [Fact]
    public void CreateThroughTheRealSequencer_IsAnswered201Style_ThenExists()
    {
        var entity = Entity("a", RealSequencer());
        entity.Tell(new TopicProtocol.Create("a"));
        Assert.Equal(new SequencerProtocol.TopicChanged("a", 1), ExpectMsg<SequencerProtocol.TopicChanged>(Wait));
        entity.Tell(new TopicProtocol.Create("a"));
        Assert.Equal(0, ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position);
        AwaitAssert(() => Assert.True(_registry.TryGet("a", out _)), Wait);
    }

    [Fact]
    public async Task Retain_CommitsATruncate_OnlyWhenTheCutIsPastTheHubsTrimmedMark()
    {
        var sequencer = RealSequencer();
        var entity = Entity("a", sequencer);
        entity.Tell(new TopicProtocol.Create("a"));
        ExpectMsg<SequencerProtocol.TopicChanged>(Wait);
        sequencer.Tell(new SequencerProtocol.Publish(1,
            [.. Enumerable.Range(0, 5).Select(_ => new PublishCommand("a", Encoding.UTF8.GetBytes("{}"), 0))], DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds()));
        Assert.Equal([2L, 3L, 4L, 5L, 6L], ExpectMsg<SequencerProtocol.Committed>(Wait).Positions);
        await _registry.WaitAppliedAsync(6).WaitAsync(Wait);

        // Two kept (MaxMessagesPerTopic): the cut is 4, past the hub's mark 0: a truncate entry at 7.
        entity.Tell(new TopicProtocol.Retain("a"));
        Assert.Equal(new SequencerProtocol.TopicChanged("a", 7), ExpectMsg<SequencerProtocol.TopicChanged>(Wait));
        await _registry.WaitAppliedAsync(7).WaitAsync(Wait);
        _registry.TryGet("a", out var hub);
        Assert.Equal(4, hub.TrimmedThrough);
        Assert.Equal([5L, 6L], _journal.Journal.Read(["a"], 0, long.MaxValue, 10).Select(message => message.Position));

        // Nothing new past the mark: answered 0 by the entity, nothing logged.
        entity.Tell(new TopicProtocol.Retain("a"));
        Assert.Equal(new SequencerProtocol.TopicChanged("a", 0), ExpectMsg<SequencerProtocol.TopicChanged>(Wait));
        Assert.Equal(7, _journal.Journal.LastPosition);
    }

    [Fact]
    public void Retain_OfATopicThisNodeHasNoHubFor_SendsNothing()
    {
        var sequencer = CreateTestProbe();
        _journal.Journal.Write([new LogEntry(1, LogEntryKind.CreateTopic, "a", [], 0), .. Enumerable.Range(2, 5).Select(p => Published(p, "a"))]);
        var entity = Entity("a", sequencer);
        entity.Tell(new TopicProtocol.Retain("a"));
        Assert.Equal(0, ExpectMsg<SequencerProtocol.TopicChanged>(Wait).Position);
        sequencer.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _journal.Dispose();
    }
}
