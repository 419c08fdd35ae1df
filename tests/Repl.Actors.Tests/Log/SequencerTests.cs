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
}
