using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Repl.Actors.Messages;

namespace Repl.Actors.Log;

/// <summary>
/// The standalone log: the local SQLite journal. A batch is committed when its journal transaction is.
/// </summary>
/// <remarks>
/// This is the only writer of the journal, so it also decides what a command means at its point in the log:
/// a publish to a topic that no longer exists gets no position. Committed entries are handed to the single
/// reader (the applier) in commit order.
/// </remarks>
public sealed class SqliteLog : ILog
{
    private readonly Journal.Journal _journal;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly HashSet<string> _topics;
    private readonly Channel<IReadOnlyList<LogEntry>> _committed =
        Channel.CreateUnbounded<IReadOnlyList<LogEntry>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    public SqliteLog(Journal.Journal journal)
    {
        _journal = journal;
        _topics = journal.LoadTopics().Select(topic => topic.Name).ToHashSet(StringComparer.Ordinal);
    }

    public async ValueTask<long[]> AppendAsync(IReadOnlyList<PublishCommand> batch, CancellationToken cancellationToken)
    {
        var positions = new long[batch.Count];
        var entries = new LogEntry[batch.Count];
        int count = 0;
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long next = _journal.LastPosition;
            for (int i = 0; i < batch.Count; i++)
            {
                var command = batch[i];
                if (!_topics.Contains(command.Topic)) continue;
                positions[i] = ++next;
                entries[count++] = new LogEntry(next, LogEntryKind.Publish, command.Topic, MessageJson.WithId(next, command.Body), command.CreatedAtMs);
            }
            if (count > 0) Commit(count == entries.Length ? entries : entries[..count]);
        }
        finally
        {
            _writeGate.Release();
        }
        return positions;
    }

    public ValueTask<long> CreateTopicAsync(string name, CancellationToken cancellationToken) =>
        ChangeTopicAsync(LogEntryKind.CreateTopic, name, cancellationToken);

    public ValueTask<long> DeleteTopicAsync(string name, CancellationToken cancellationToken) =>
        ChangeTopicAsync(LogEntryKind.DeleteTopic, name, cancellationToken);

    public async IAsyncEnumerable<IReadOnlyList<LogEntry>> ReadAsync(long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var batch in _committed.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (batch[^1].Position <= after) continue;
            yield return batch;
        }
    }

    public ValueTask DisposeAsync()
    {
        _committed.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    private async ValueTask<long> ChangeTopicAsync(LogEntryKind kind, string name, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bool exists = _topics.Contains(name);
            if (exists != (kind == LogEntryKind.DeleteTopic)) return 0;
            long position = _journal.LastPosition + 1;
            Commit([new LogEntry(position, kind, name, [], DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())]);
            if (kind == LogEntryKind.CreateTopic) _topics.Add(name);
            else _topics.Remove(name);
            return position;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private void Commit(LogEntry[] entries)
    {
        try
        {
            _journal.Write(entries);
        }
        catch (Exception error)
        {
            throw new LogUnavailableException("the journal could not commit: " + error.Message, error);
        }
        _committed.Writer.TryWrite(entries);
    }
}
