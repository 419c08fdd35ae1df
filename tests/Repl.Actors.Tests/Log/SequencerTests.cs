using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Journal;
using Repl.Actors.Log;
using Repl.Actors.Topics;

namespace Repl.Actors.Tests.Log;

public sealed class SequencerTests
{
    /// <summary>A log that holds each append until the test lets it go, to watch batches form.</summary>
    private sealed class GatedLog(ILog inner) : ILog
    {
        public TaskCompletionSource Gate { get; set; } = new();

        public List<int> BatchSizes { get; } = [];

        public async ValueTask<long[]> AppendAsync(IReadOnlyList<PublishCommand> batch, CancellationToken cancellationToken)
        {
            BatchSizes.Add(batch.Count);
            await Gate.Task;
            return await inner.AppendAsync(batch, cancellationToken);
        }

        public ValueTask<long> CreateTopicAsync(string name, CancellationToken cancellationToken) => inner.CreateTopicAsync(name, cancellationToken);

        public ValueTask<long> DeleteTopicAsync(string name, CancellationToken cancellationToken) => inner.DeleteTopicAsync(name, cancellationToken);

        public IAsyncEnumerable<IReadOnlyList<LogEntry>> ReadAsync(long after, CancellationToken cancellationToken) => inner.ReadAsync(after, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    /// <summary>
    /// A log that, like the cluster's, appends every command without checking its topic: a publish whose topic was
    /// deleted meanwhile is committed, and only the applier finds it has no topic.
    /// </summary>
    private sealed class UncheckedLog : ILog
    {
        private readonly System.Threading.Channels.Channel<IReadOnlyList<LogEntry>> _committed = System.Threading.Channels.Channel.CreateUnbounded<IReadOnlyList<LogEntry>>();
        private long _last;

        public ValueTask<long[]> AppendAsync(IReadOnlyList<PublishCommand> batch, CancellationToken cancellationToken)
        {
            var entries = batch.Select(command => new LogEntry(++_last, LogEntryKind.Publish, command.Topic, command.Body, 0)).ToArray();
            _committed.Writer.TryWrite(entries);
            return ValueTask.FromResult(entries.Select(entry => entry.Position).ToArray());
        }

        public ValueTask<long> CreateTopicAsync(string name, CancellationToken cancellationToken) => Commit(LogEntryKind.CreateTopic, name);

        public ValueTask<long> DeleteTopicAsync(string name, CancellationToken cancellationToken) => Commit(LogEntryKind.DeleteTopic, name);

        public IAsyncEnumerable<IReadOnlyList<LogEntry>> ReadAsync(long after, CancellationToken cancellationToken) => _committed.Reader.ReadAllAsync(cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        private ValueTask<long> Commit(LogEntryKind kind, string name)
        {
            _committed.Writer.TryWrite([new LogEntry(++_last, kind, name, [], 0)]);
            return ValueTask.FromResult(_last);
        }
    }

    private static PublishCommand Command(string topic, string value) =>
        new(topic, Repl.Actors.Messages.MessageJson.EncodeBody(topic, value, [], DateTimeOffset.UnixEpoch), 0);

    [Fact]
    public async Task PublishesQueuedDuringAnAppend_GoIntoTheNextBatch_InOrder()
    {
        using var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true });
        var registry = new TopicRegistry();
        var log = new GatedLog(new SqliteLog(journal));
        await using var applier = new Applier(registry, new TopicsOptions(), journal, null, NullLogger.Instance);
        applier.Start();
        using var stop = new CancellationTokenSource();
        var pump = applier.PumpAsync(log, stop.Token);
        await registry.WaitAppliedAsync(await log.CreateTopicAsync("t", default));
        await using var sequencer = new Sequencer(log, registry, new SequencerOptions());
        sequencer.Start();

        var first = sequencer.PublishAsync([Command("t", "first")]);
        while (log.BatchSizes.Count == 0) await Task.Yield();
        var rest = Enumerable.Range(0, 50).Select(i => sequencer.PublishAsync([Command("t", i.ToString())])).ToArray();
        Assert.False(first.IsCompleted); // not acknowledged before the commit
        log.Gate.SetResult();

        long firstPosition = (await first)[0];
        var others = await Task.WhenAll(rest);
        long[] positions = [firstPosition, .. others.Select(result => result[0])];
        Assert.Equal([1, 50], log.BatchSizes);
        Assert.Equal(Enumerable.Range(2, 51).Select(i => (long)i).ToArray(), positions);
        Assert.True(registry.AppliedPosition >= positions[^1]);
        Assert.Equal(51, journal.Stats("t").Messages);
        stop.Cancel();
    }

    [Fact]
    public async Task PublishToAMissingTopic_GetsNoPosition()
    {
        using var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true });
        var registry = new TopicRegistry();
        var log = new SqliteLog(journal);
        await using var applier = new Applier(registry, new TopicsOptions(), journal, null, NullLogger.Instance);
        applier.Start();
        _ = applier.PumpAsync(log, CancellationToken.None);
        await using var sequencer = new Sequencer(log, registry, new SequencerOptions());
        sequencer.Start();
        var positions = await sequencer.PublishAsync([Command("missing", "x")]);
        Assert.Equal(new long[] { 0 }, positions);
        await log.DisposeAsync();
    }

    [Fact]
    public async Task PublishCommittedAfterItsTopicWasDeleted_IsAnsweredWithNoPosition()
    {
        using var journal = Repl.Actors.Journal.Journal.Open(new JournalOptions { InMemory = true });
        var registry = new TopicRegistry();
        var log = new UncheckedLog();
        await using var applier = new Applier(registry, new TopicsOptions(), journal, replica: journal, NullLogger.Instance);
        applier.Start();
        using var stop = new CancellationTokenSource();
        _ = applier.PumpAsync(log, stop.Token);
        await using var sequencer = new Sequencer(log, registry, new SequencerOptions());
        sequencer.Start();
        await log.CreateTopicAsync("kept", default);
        await log.CreateTopicAsync("gone", default);
        // The delete commits between the node's topic check and the publish's append (another node deleted it).
        await registry.WaitAppliedAsync(await log.DeleteTopicAsync("gone", default));

        var late = await sequencer.PublishAsync([Command("gone", "late"), Command("gone", "later")]);
        var kept = await sequencer.PublishAsync([Command("kept", "x")]);

        Assert.Equal(new long[] { 0, 0 }, late); // skipped by the applier, so not acknowledged as published
        Assert.Equal(new long[] { 6 }, kept);
        Assert.True(registry.WasSkipped(4));
        Assert.False(registry.WasSkipped(6));
        Assert.Equal(1, journal.Stats("kept").Messages);
        stop.Cancel();
    }
}
