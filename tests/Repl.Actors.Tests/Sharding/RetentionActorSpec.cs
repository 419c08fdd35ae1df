using System.Text;
using Akka.Actor;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Sequencer;
using Repl.Actors.Tests.Specs;
using Repl.Actors.Sharding;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Sharding;

/// <summary>The retention owner, with a real journal and a probe as the topics' shard region.</summary>
public sealed class RetentionActorSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    private readonly SpecJournal _journal;

    public RetentionActorSpec(ITestOutputHelper output) : this(SpecJournal.Create(maxMessagesPerTopic: 2), output)
    {
    }

    private RetentionActorSpec(SpecJournal journal, ITestOutputHelper output)
        : base(ReplSpec.Setup(journal.Journal, ReplSpec.Config(ReplSpec.LocalHocon)), "retention-spec", output)
    {
        _journal = journal;
        // "over" has 3 messages, one more than it keeps; "under" has 1.
        _journal.Journal.Write([Create(1, "over"), Create(2, "under"), Published(3, "over"), Published(4, "under"), Published(5, "over"), Published(6, "over")]);
    }

    private static LogEntry Create(long position, string topic) => new(position, LogEntryKind.CreateTopic, topic, [], 0);

    private static LogEntry Published(long position, string topic) =>
        new(position, LogEntryKind.Publish, topic, MessageJson.WithId(position, Encoding.UTF8.GetBytes("{}")), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());

    private IActorRef Owner(IActorRef topics, TimeSpan interval) =>
        Sys.ActorOf(RetentionActor.Props(_journal.Journal, topics, TimeProvider.System, interval, Wait));

    [Fact]
    public void ARound_TellsOnlyTheTopicsOverTheirLimits_AndARunDuringItGetsARoundOfItsOwn()
    {
        var topics = CreateTestProbe();
        var first = CreateTestProbe();
        var second = CreateTestProbe();
        var owner = Owner(topics, TimeSpan.FromHours(1));

        owner.Tell(RetentionProtocol.Run.Instance, first);
        Assert.Equal("over", topics.ExpectMsg<TopicProtocol.Retain>(Wait).Topic);
        owner.Tell(RetentionProtocol.Run.Instance, second);
        topics.Reply(new SequencerProtocol.TopicChanged("over", 7));
        Assert.Equal(7, first.ExpectMsg<RetentionProtocol.Ran>(Wait).Position);

        // The second asker's round starts after its Run arrived, and is answered on its own.
        Assert.Equal("over", topics.ExpectMsg<TopicProtocol.Retain>(Wait).Topic);
        second.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        topics.Reply(new SequencerProtocol.TopicChanged("over", 0));
        Assert.Equal(0, second.ExpectMsg<RetentionProtocol.Ran>(Wait).Position);
        topics.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void ItsTimer_RunsARoundEveryInterval()
    {
        var topics = CreateTestProbe();
        Owner(topics, TimeSpan.FromMilliseconds(100));
        for (int round = 0; round < 2; round++)
        {
            Assert.Equal("over", topics.ExpectMsg<TopicProtocol.Retain>(Wait).Topic);
            topics.Reply(new SequencerProtocol.TopicChanged("over", 0));
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _journal.Dispose();
    }
}
