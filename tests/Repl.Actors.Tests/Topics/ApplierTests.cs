using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Journal;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Topics;

namespace Repl.Actors.Tests.Topics;

public sealed class ApplierTests
{
    private sealed class ProbeSubscriber(TestProbe<string> probe) : ISubscriber
    {
        public void Notify() => probe.Tell("notify");

        public void Heartbeat() { }

        public void OnTopicDeleted(TopicActor topic) => probe.Tell("deleted:" + topic.Name);
    }

    private static LogEntry Publish(long position, string topic) =>
        new(position, LogEntryKind.Publish, topic, MessageJson.WithId(position, MessageJson.EncodeBody(topic, "v", [], DateTimeOffset.UnixEpoch)), 0);

    private static LogEntry Create(long position, string topic) => new(position, LogEntryKind.CreateTopic, topic, [], 0);

    private static (Applier, TopicRegistry, Repl.Actors.Journal.Journal) Start()
    {
        var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true });
        var registry = new TopicRegistry();
        var applier = new Applier(registry, new TopicsOptions { MemoryWindow = 8 }, journal, replica: journal, NullLogger.Instance);
        applier.Start();
        return (applier, registry, journal);
    }

    [Fact]
    public async Task SameLog_SameState_OnEveryNode()
    {
        LogEntry[] log =
        [
            Create(1, "a"), Publish(2, "a"), Publish(3, "ghost"), Create(4, "a"), Publish(5, "a"),
            new(6, LogEntryKind.DeleteTopic, "a", [], 0), Publish(7, "a"), Create(8, "a"), Publish(9, "a"),
        ];
        var states = new List<string>();
        foreach (var split in new[] { 1, 3, 9 })
        {
            var (applier, registry, journal) = Start();
            foreach (var chunk in log.Chunk(split)) applier.Tell(new Applier.Command.Apply(chunk));
            await registry.WaitAppliedAsync(9);
            await applier.DisposeAsync();
            registry.TryGet("a", out var topic);
            var messages = journal.Read(["a", "ghost"], 0, long.MaxValue, 100).Select(message => message.Position);
            string skipped = string.Join(',', Enumerable.Range(1, 9).Where(position => registry.WasSkipped(position)));
            states.Add($"{string.Join(',', registry.All.Select(t => t.Name))}|created {topic.Created}|messages {string.Join(',', messages)}|skipped {skipped}");
            journal.Dispose();
        }
        Assert.All(states, state => Assert.Equal("a|created 8|messages 9|skipped 3,7", state));
    }

    [Fact]
    public async Task Subscribers_AreNotifiedOncePerBatch_AfterTheWatermarkMoves()
    {
        var (applier, registry, journal) = Start();
        await using var stopApplier = applier;
        using var closeJournal = journal;
        applier.Tell(new Applier.Command.Apply([Create(1, "a")]));
        await registry.WaitAppliedAsync(1);
        registry.TryGet("a", out var topic);
        var probe = new TestProbe<string>();
        topic.Subscribe(new ProbeSubscriber(probe));

        applier.Tell(new Applier.Command.Apply([Publish(2, "a"), Publish(3, "a"), Publish(4, "a")]));
        Assert.Equal("notify", await probe.ExpectAsync());
        Assert.Equal(4, registry.AppliedPosition);
        var frames = new List<Frame>();
        Assert.True(topic.TryRead(1, registry.AppliedPosition, frames, int.MaxValue));
        Assert.Equal([2L, 3L, 4L], frames.Select(frame => frame.Position));
        await probe.ExpectNoMessageAsync(TimeSpan.FromMilliseconds(50));

        applier.Tell(new Applier.Command.Apply([new LogEntry(5, LogEntryKind.DeleteTopic, "a", [], 0)]));
        Assert.Equal("deleted:a", await probe.ExpectAsync());
        Assert.False(registry.TryGet("a", out _));
    }

    [Fact]
    public async Task IdleTopic_IsPassivated_AndReadersFallBackToTheJournal()
    {
        var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true });
        var registry = new TopicRegistry();
        await using var applier = new Applier(registry, new TopicsOptions { PassivateAfter = TimeSpan.Zero }, journal, journal, NullLogger.Instance);
        applier.Start();
        applier.Tell(new Applier.Command.Apply([Create(1, "a"), Publish(2, "a")]));
        await registry.WaitAppliedAsync(2);
        registry.TryGet("a", out var topic);
        Assert.True(topic.IsActive);

        applier.Tell(new Applier.Command.Sweep());
        applier.Tell(new Applier.Command.Apply([Create(3, "b")]));
        await registry.WaitAppliedAsync(3);
        Assert.False(topic.IsActive);
        Assert.False(topic.TryRead(1, 3, [], int.MaxValue));
        Assert.Equal([2L], journal.Read(["a"], 1, 3, 10).Select(message => message.Position));
        journal.Dispose();
    }
}
