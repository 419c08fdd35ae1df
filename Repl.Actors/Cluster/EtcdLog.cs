using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Repl.Actors.Cluster.Etcd;
using Repl.Actors.Journal;
using Repl.Actors.Log;

namespace Repl.Actors.Cluster;

/// <summary>
/// The cluster log: every batch is one etcd transaction that puts the batch at the single key <c>{prefix}/log</c>.
/// etcd's Raft leader orders the transactions; its MVCC history of that key is the log; every node reads it with
/// a watch, in revision order.
/// </summary>
/// <remarks>
/// <para><b>Keys.</b> <c>{prefix}/log</c>: the batch (see <see cref="LogBatchCodec"/>), one version per batch.
/// <c>{prefix}/topics/{name}</c>: exists while the topic does; created and deleted in the same transaction as the
/// log entry that says so, so a create of an existing topic fails its compare and answers 0 (409).
/// <c>{prefix}/writers/{node}/{slot}</c>: the token of the last transaction of one of this node's writer slots
/// (see exactly-once below).</para>
/// <para><b>Positions</b> are <see cref="EtcdPositions"/>: revision and index in the batch, the same on every node.</para>
/// <para><b>Exactly once.</b> The etcd client retries a transaction on another endpoint after a timeout, and the
/// first attempt may have been applied. Each transaction therefore compares the node's writer key's mod revision
/// with the one it last wrote and puts a fresh token there; a replay fails the compare, and the failure branch reads
/// the writer key: if it holds this call's token, the earlier attempt committed at that key's mod revision, and
/// those are the positions returned. The log itself never holds a duplicate batch, so readers need no dedup.
/// A node has <see cref="EtcdLogOptions.WriterSlots"/> writer keys, each serialising its own transactions, so that
/// many batches can be in flight at once (etcd then commits them with one disk sync); the chunks of one batch go
/// through one slot, in order.</para>
/// <para><b>Failures.</b> etcd unreachable or without quorum for a whole request timeout → <see cref="LogUnavailableException"/>
/// (503): the batch may or may not have committed (it will then be applied and delivered as usual). Every outcome
/// is reported to <see cref="Health"/>. The reading watch retries until disposed.</para>
/// <para><b>Compaction.</b> etcd keeps a window of revisions. A node that resumes from a compacted revision cannot
/// get what it missed: it reads the topic set as of the compaction point, synthesises the creates and deletes that
/// bring its topics there, and a <see cref="LogEntryKind.Truncate"/> per topic so readers resuming into the lost range
/// get a gap; then it continues from the compaction point.</para>
/// </remarks>
public sealed class EtcdLog : IAsyncDisposable
{
    private readonly EtcdClient _client;
    private readonly EtcdLogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly byte[] _logKey;
    private readonly Channel<WriterSlot> _slots;
    private readonly string _topicsPrefix;
    private readonly string _incarnation = Guid.NewGuid().ToString("N")[..12];
    private readonly CancellationTokenSource _disposed = new();
    // What the reader has handed out: topic → position that created it (for the compaction resync).
    private readonly Dictionary<string, long> _topics;
    private long _sequence;
    private long _lastWritten;
    private long _lastDelivered;

    /// <param name="topics">The topics as of the position the first <see cref="ReadAsync"/> will start after (the replica journal's).</param>
    public EtcdLog(EtcdClient client, EtcdLogOptions options, IEnumerable<TopicRecord> topics, LogHealth health, TimeProvider time, ILogger logger)
    {
        _client = client;
        _options = options;
        _time = time;
        _logger = logger;
        Health = health;
        string prefix = options.Prefix.TrimEnd('/');
        _logKey = EtcdKeys.Utf8(LogKey(prefix));
        _slots = Channel.CreateUnbounded<WriterSlot>();
        for (int i = 0; i < Math.Max(1, options.WriterSlots); i++) _slots.Writer.TryWrite(new WriterSlot($"{prefix}/writers/{options.NodeId}/{i}"));
        _topicsPrefix = $"{prefix}/topics/";
        _topics = topics.ToDictionary(topic => topic.Name, topic => topic.Created, StringComparer.Ordinal);
    }

    /// <summary>Reachability of etcd as this log sees it.</summary>
    public LogHealth Health { get; }

    /// <summary>The etcd revision of the last batch this node's reader delivered.</summary>
    public long DeliveredRevision => Volatile.Read(ref _lastDelivered);

    /// <summary>The key the log lives at.</summary>
    public static string LogKey(string prefix) => prefix.TrimEnd('/') + "/log";

    public async ValueTask<long[]> AppendAsync(IReadOnlyList<PublishCommand> batch, CancellationToken cancellationToken)
    {
        var positions = new long[batch.Count];
        var chunk = new List<(LogEntryKind, string, byte[], long, string?)>();
        int chunkStart = 0, chunkBytes = 0;
        var slot = await _slots.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (int i = 0; i <= batch.Count; i++)
            {
                int size = i < batch.Count ? LogBatchCodec.SizeOf(batch[i].Topic, batch[i].Body.Length, batch[i].Key) : 0;
                bool flush = i == batch.Count ? chunk.Count > 0 : chunk.Count > 0 && chunkBytes + size > _options.MaxTxnBytes;
                if (flush)
                {
                    long revision = await CommitAsync(slot, LogBatchCodec.Encode(chunk), [], [], cancellationToken).ConfigureAwait(false);
                    for (int j = 0; j < chunk.Count; j++) positions[chunkStart + j] = EtcdPositions.Of(revision, j);
                    chunk.Clear();
                    chunkStart = i;
                    chunkBytes = 0;
                }
                if (i == batch.Count) break;
                chunk.Add((LogEntryKind.Publish, batch[i].Topic, batch[i].Body, batch[i].CreatedAtMs, batch[i].Key));
                chunkBytes += size;
            }
        }
        finally
        {
            _slots.Writer.TryWrite(slot);
        }
        return positions;
    }

    public ValueTask<long> CreateTopicAsync(string name, CancellationToken cancellationToken) =>
        ChangeTopicAsync(LogEntryKind.CreateTopic, name, cancellationToken);

    public ValueTask<long> DeleteTopicAsync(string name, CancellationToken cancellationToken) =>
        ChangeTopicAsync(LogEntryKind.DeleteTopic, name, cancellationToken);

    private async ValueTask<long> ChangeTopicAsync(LogEntryKind kind, string name, CancellationToken cancellationToken)
    {
        string key = _topicsPrefix + name;
        var value = LogBatchCodec.Encode([(kind, name, [], _time.GetUtcNow().ToUnixTimeMilliseconds(), null)]);
        TxnCompare guard = kind == LogEntryKind.CreateTopic
            ? TxnCompare.CreateRevision(key, CompareResult.Equal, 0)
            : TxnCompare.CreateRevision(key, CompareResult.Greater, 0);
        TxnOp change = kind == LogEntryKind.CreateTopic ? TxnOp.Put(key, _options.NodeId) : TxnOp.DeleteRange(key);
        var slot = await _slots.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long revision = await CommitAsync(slot, value, [guard], [change], cancellationToken).ConfigureAwait(false);
            return revision == 0 ? 0 : EtcdPositions.Of(revision, 0);
        }
        finally
        {
            _slots.Writer.TryWrite(slot);
        }
    }

    /// <summary>Commits one batch value; returns its revision, or 0 when one of <paramref name="guards"/> failed.</summary>
    private async Task<long> CommitAsync(WriterSlot slot, byte[] value, TxnCompare[] guards, TxnOp[] ops, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        try
        {
            if (slot.ModRevision < 0)
            {
                slot.ModRevision = (await _client.GetAsync(slot.Key, cancellationToken).ConfigureAwait(false))?.ModRevision ?? 0;
            }
            for (int attempt = 0; ; attempt++)
            {
                var token = Encoding.UTF8.GetBytes($"{_incarnation}:{Interlocked.Increment(ref _sequence)}");
                var result = await _client.TxnAsync(
                    [TxnCompare.ModRevision(slot.Key, CompareResult.Equal, slot.ModRevision), .. guards],
                    [TxnOp.Put(_logKey, value), TxnOp.Put(slot.Key, token), .. ops],
                    [TxnOp.Range(slot.Key)],
                    cancellationToken).ConfigureAwait(false);
                Health.ReportSuccess();
                long revision;
                if (result.Succeeded)
                {
                    revision = result.Header.Revision;
                }
                else
                {
                    var writer = result.Responses.Count > 0 ? result.Responses[0].Range?.Kvs.FirstOrDefault() : null;
                    long actual = writer?.ModRevision ?? 0;
                    if (writer is not null && writer.Value.AsSpan().SequenceEqual(token))
                    {
                        // A timed-out attempt of this very transaction was applied; this one is its replay.
                        revision = actual;
                    }
                    else if (actual != slot.ModRevision)
                    {
                        // An earlier call's outcome was unknown (it failed after maybe committing), or another process
                        // writes with this node id. Learn the writer key's revision and try again.
                        slot.ModRevision = actual;
                        if (attempt < 3) continue;
                        throw new LogUnavailableException($"another process keeps writing as node '{_options.NodeId}'; node ids must be unique");
                    }
                    else
                    {
                        return 0;
                    }
                }
                slot.ModRevision = revision;
                InterlockedMax(ref _lastWritten, revision);
                return revision;
            }
        }
        catch (EtcdException error) when (error is not EtcdCompactedException)
        {
            // The outcome is unknown: the next write learns the writer key's revision again.
            slot.ModRevision = -1;
            Health.ReportFailure(error, started);
            throw new LogUnavailableException("the cluster log (etcd) is unavailable: " + error.Message, error);
        }
    }

    public async IAsyncEnumerable<IReadOnlyList<LogEntry>> ReadAsync(long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        // Re-read the revision of the last applied entry: it may hold more entries after it.
        long next = Math.Max(1, EtcdPositions.RevisionOf(after));
        IAsyncEnumerator<WatchBatch>? watch = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                watch ??= _client.WatchAsync(_logKey, null, next, progressNotify: false, stop.Token).GetAsyncEnumerator(stop.Token);
                var step = await StepAsync(watch, stop.Token).ConfigureAwait(false);
                if (step.Batch is { } batch)
                {
                    var entries = new List<LogEntry>();
                    foreach (var change in batch.Events)
                    {
                        long revision = change.Kv.ModRevision;
                        next = revision + 1;
                        if (change.Type != WatchEventType.Put) continue;
                        LogBatchCodec.Decode(change.Kv.Value, revision, after, entries);
                    }
                    Health.ReportSuccess();
                    if (entries.Count > 0)
                    {
                        Track(entries);
                        after = entries[^1].Position;
                        yield return entries;
                    }
                    Volatile.Write(ref _lastDelivered, next - 1);
                    continue;
                }
                if (watch is not null) await watch.DisposeAsync().ConfigureAwait(false);
                watch = null;
                if (step.Stopped) yield break;
                if (step.Compacted is { } compacted)
                {
                    var resync = await ResyncAsync(compacted, after, stop.Token).ConfigureAwait(false);
                    if (resync is null) continue; // etcd went away meanwhile: try again
                    next = resync.Value.Revision + 1;
                    if (resync.Value.Entries.Count > 0)
                    {
                        Track(resync.Value.Entries);
                        after = resync.Value.Entries[^1].Position;
                        yield return resync.Value.Entries;
                    }
                    continue;
                }
                try
                {
                    await Task.Delay(_options.WatchRetryDelay, _time, stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    yield break;
                }
            }
        }
        finally
        {
            if (watch is not null) await watch.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<Step> StepAsync(IAsyncEnumerator<WatchBatch> watch, CancellationToken stop)
    {
        long started = _time.GetTimestamp();
        try
        {
            if (!await watch.MoveNextAsync().ConfigureAwait(false)) return new Step(null, null, Stopped: stop.IsCancellationRequested);
            return new Step(watch.Current, null, false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return new Step(null, null, Stopped: true);
        }
        catch (EtcdCompactedException compacted)
        {
            _logger.LogWarning("The cluster log was compacted past this node's position ({Message}); resynchronising from the compaction point, readers of the lost range get a gap", compacted.Message);
            return new Step(null, compacted, false);
        }
        catch (Exception error) when (error is EtcdException or IOException or HttpRequestException)
        {
            Health.ReportFailure(error, started);
            _logger.LogWarning("Watching the cluster log failed, retrying: {Message}", error.Message);
            return new Step(null, null, false);
        }
    }

    /// <summary>Synthesises the entries that bring this node from <paramref name="after"/> to the compaction point.</summary>
    private async Task<(List<LogEntry> Entries, long Revision)?> ResyncAsync(EtcdCompactedException compacted, long after, CancellationToken stop)
    {
        long started = _time.GetTimestamp();
        RangeResult snapshot;
        long revision;
        try
        {
            try
            {
                revision = compacted.CompactRevision;
                if (revision <= 0) throw new EtcdCompactedException(0, 0);
                snapshot = await _client.GetPrefixAsync(_topicsPrefix, revision: revision, cancellationToken: stop).ConfigureAwait(false);
            }
            catch (EtcdCompactedException)
            {
                // Compacted again meanwhile, or the point is unknown: take the current state.
                snapshot = await _client.GetPrefixAsync(_topicsPrefix, cancellationToken: stop).ConfigureAwait(false);
                revision = snapshot.Header.Revision;
            }
        }
        catch (Exception error) when (error is EtcdException or OperationCanceledException)
        {
            if (error is EtcdException) Health.ReportFailure(error, started);
            return null;
        }

        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var entries = new List<LogEntry>();
        long position = Math.Max(after, EtcdPositions.Of(revision, EtcdPositions.SyntheticBase - 1));
        var current = snapshot.Kvs.ToDictionary(kv => kv.KeyString[_topicsPrefix.Length..], kv => kv.CreateRevision, StringComparer.Ordinal);
        var local = new Dictionary<string, long>(_topics, StringComparer.Ordinal);
        foreach (var (name, created) in _topics)
        {
            // Gone, or deleted and created again while this node was away.
            if (!current.TryGetValue(name, out long createRevision) || createRevision > EtcdPositions.RevisionOf(created))
            {
                entries.Add(new LogEntry(++position, LogEntryKind.DeleteTopic, name, [], now));
                local.Remove(name);
            }
        }
        foreach (var name in current.Keys.Where(name => !local.ContainsKey(name)))
        {
            entries.Add(new LogEntry(++position, LogEntryKind.CreateTopic, name, [], now));
        }
        foreach (var name in current.Keys)
        {
            entries.Add(new LogEntry(++position, LogEntryKind.Truncate, name, [], now));
        }
        _logger.LogWarning("Resynchronised with the cluster log at revision {Revision}: {Topics} topics, history before it incomplete on this node", revision, current.Count);
        return (entries, revision);
    }

    private void Track(List<LogEntry> entries)
    {
        foreach (var entry in entries)
        {
            if (entry.Kind == LogEntryKind.CreateTopic) _topics.TryAdd(entry.Topic, entry.Position);
            else if (entry.Kind == LogEntryKind.DeleteTopic) _topics.Remove(entry.Topic);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested) return;
        // Let the reader deliver this node's own last commits, so publishes already acknowledged by etcd are applied.
        long deadline = _time.GetTimestamp();
        while (Volatile.Read(ref _lastDelivered) < Volatile.Read(ref _lastWritten) && _time.GetElapsedTime(deadline) < _options.DrainTimeout)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), _time).ConfigureAwait(false);
        }
        await _disposed.CancelAsync().ConfigureAwait(false);
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen = Volatile.Read(ref target);
        while (value > seen)
        {
            long found = Interlocked.CompareExchange(ref target, value, seen);
            if (found == seen) return;
            seen = found;
        }
    }

    /// <summary>One writer key and the mod revision this node last gave it (-1: unknown, read it first).</summary>
    private sealed class WriterSlot(string key)
    {
        public string Key { get; } = key;

        public long ModRevision { get; set; } = -1;
    }

    private readonly record struct Step(WatchBatch? Batch, EtcdCompactedException? Compacted, bool Stopped);
}
