using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
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
/// <para><b>Exactly once.</b> The gRPC channel (dotnet-etcd's retry policy) sends a transaction again, to another
/// member, after an <c>Unavailable</c> answer, and the first attempt may have been applied. Each transaction
/// therefore compares the node's writer key's mod revision with the one it last wrote and puts a fresh token there; a
/// replay fails the compare, and the failure branch reads the writer key: if it holds this call's token, the earlier
/// attempt committed at that key's mod revision, and those are the positions returned. The log itself never holds a
/// duplicate batch, so readers need no dedup. A node has <see cref="EtcdLogOptions.WriterSlots"/> writer keys, each
/// serialising its own transactions, so that many batches can be in flight at once (etcd then commits them with one
/// disk sync); the chunks of one batch go through one slot, in order.</para>
/// <para><b>Failures.</b> etcd unreachable or without quorum for a whole request timeout → <see cref="LogUnavailableException"/>
/// (503): the batch may or may not have committed (it will then be applied and delivered as usual). Every outcome
/// is reported to <see cref="Health"/>. The reading watch (etcd's <c>Watch</c> stream, opened with <c>hasleader</c> so
/// a member that loses its leader ends it) is opened again, on whichever member the channel picks, from the revision
/// after the last one delivered, until disposed: no gap, no duplicate.</para>
/// <para><b>Compaction.</b> etcd keeps a window of revisions. A node that resumes from a compacted revision cannot
/// get what it missed (etcd answers the watch with its compaction revision and cancels it): it reads the topic set as
/// of the compaction point, synthesises the creates and deletes that bring its topics there, and a
/// <see cref="LogEntryKind.Truncate"/> per topic so readers resuming into the lost range get a gap; then it continues
/// from the compaction point.</para>
/// </remarks>
public sealed class EtcdLog : IAsyncDisposable
{
    private readonly EtcdConnection _etcd;
    private readonly EtcdLogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ByteString _logKey;
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
    public EtcdLog(EtcdConnection etcd, EtcdLogOptions options, IEnumerable<TopicRecord> topics, LogHealth health, TimeProvider time, ILogger logger)
    {
        _etcd = etcd;
        _options = options;
        _time = time;
        _logger = logger;
        Health = health;
        string prefix = options.Prefix.TrimEnd('/');
        _logKey = EtcdConnection.Key(LogKey(prefix));
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
        var guard = new Compare
        {
            Key = EtcdConnection.Key(key),
            Target = Compare.Types.CompareTarget.Create,
            Result = kind == LogEntryKind.CreateTopic ? Compare.Types.CompareResult.Equal : Compare.Types.CompareResult.Greater,
            CreateRevision = 0,
        };
        var change = kind == LogEntryKind.CreateTopic
            ? new RequestOp { RequestPut = new PutRequest { Key = EtcdConnection.Key(key), Value = ByteString.CopyFromUtf8(_options.NodeId) } }
            : new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = EtcdConnection.Key(key) } };
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
    private async Task<long> CommitAsync(WriterSlot slot, byte[] value, Compare[] guards, RequestOp[] ops, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        try
        {
            if (slot.ModRevision < 0)
            {
                slot.ModRevision = (await _etcd.GetAsync(slot.Key, cancellationToken).ConfigureAwait(false))?.ModRevision ?? 0;
            }
            var writerKey = EtcdConnection.Key(slot.Key);
            var batch = ByteString.CopyFrom(value);
            for (int attempt = 0; ; attempt++)
            {
                var token = ByteString.CopyFromUtf8($"{_incarnation}:{Interlocked.Increment(ref _sequence)}");
                var txn = new TxnRequest
                {
                    Compare = { new Compare { Key = writerKey, Target = Compare.Types.CompareTarget.Mod, Result = Compare.Types.CompareResult.Equal, ModRevision = slot.ModRevision }, guards },
                    Success =
                    {
                        new RequestOp { RequestPut = new PutRequest { Key = _logKey, Value = batch } },
                        new RequestOp { RequestPut = new PutRequest { Key = writerKey, Value = token } },
                        ops,
                    },
                    Failure = { new RequestOp { RequestRange = new RangeRequest { Key = writerKey } } },
                };
                var result = await _etcd.Client.TransactionAsync(txn, deadline: _etcd.Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
                Health.ReportSuccess();
                long revision;
                if (result.Succeeded)
                {
                    revision = result.Header.Revision;
                }
                else
                {
                    var writer = result.Responses.Count > 0 ? result.Responses[0].ResponseRange?.Kvs.FirstOrDefault() : null;
                    long actual = writer?.ModRevision ?? 0;
                    if (writer is not null && writer.Value.Equals(token))
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
        catch (Exception error) when (error is RpcException || (error is OperationCanceledException && !cancellationToken.IsCancellationRequested))
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
        LogWatch? watch = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                watch ??= new LogWatch(_etcd, _logKey, next, stop.Token);
                var step = await StepAsync(watch, stop.Token).ConfigureAwait(false);
                if (step.Events is { } events)
                {
                    var entries = new List<LogEntry>();
                    foreach (var change in events)
                    {
                        long revision = change.Kv.ModRevision;
                        next = revision + 1;
                        if (change.Type != Mvccpb.Event.Types.EventType.Put) continue;
                        LogBatchCodec.Decode(change.Kv.Value.Span, revision, after, entries);
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
                watch.Dispose();
                watch = null;
                if (step.Stopped) yield break;
                if (step.CompactRevision is { } compacted)
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
            watch?.Dispose();
        }
    }

    /// <summary>Waits for the watch's next events, its compaction, or its end.</summary>
    private async Task<Step> StepAsync(LogWatch watch, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                var response = await watch.NextAsync(stop).ConfigureAwait(false);
                if (response is null)
                {
                    if (stop.IsCancellationRequested) return new Step(null, null, Stopped: true);
                    throw new RpcException(new Status(StatusCode.Unavailable, "etcd ended the watch"));
                }
                if (response.CompactRevision > 0)
                {
                    _logger.LogWarning("The cluster log was compacted past this node's position (etcd keeps revisions from {Revision} on); resynchronising from the compaction point, readers of the lost range get a gap", response.CompactRevision);
                    return new Step(null, response.CompactRevision, false);
                }
                if (response.Canceled) throw new RpcException(new Status(StatusCode.Cancelled, "etcd cancelled the watch: " + response.CancelReason));
                if (response.Created)
                {
                    // A member with a leader took the watch: etcd answers again.
                    Health.ReportSuccess();
                    continue;
                }
                if (response.Events.Count > 0) return new Step(response.Events, null, false);
                // An empty answer (progress notification): nothing to deliver.
            }
        }
        catch (Exception error) when (stop.IsCancellationRequested && error is OperationCanceledException or RpcException or IOException)
        {
            // Stopping: the stream was aborted under a read (gRPC may report that as Unavailable rather than cancelled).
            return new Step(null, null, Stopped: true);
        }
        catch (Exception error) when (error is RpcException or IOException or InvalidOperationException or OperationCanceledException)
        {
            // Cut off since now, not since the wait began: the stream was alive (HTTP/2 pings) until it broke, and a
            // watch idle for minutes must not look like minutes without etcd (that would end every stream at once
            // when one member goes away).
            Health.ReportFailure(error, _time.GetTimestamp());
            _logger.LogWarning("Watching the cluster log failed, retrying: {Message}", error.Message);
            return new Step(null, null, false);
        }
    }

    /// <summary>Synthesises the entries that bring this node from <paramref name="after"/> to the compaction point.</summary>
    /// <param name="compactRevision">The compaction point etcd reported with the watch's cancellation.</param>
    /// <param name="after">The last position this node delivered.</param>
    /// <param name="stop">Ends the attempt.</param>
    private async Task<(List<LogEntry> Entries, long Revision)?> ResyncAsync(long compactRevision, long after, CancellationToken stop)
    {
        long started = _time.GetTimestamp();
        RangeResponse snapshot;
        long revision;
        try
        {
            try
            {
                revision = compactRevision;
                snapshot = await _etcd.GetPrefixAsync(_topicsPrefix, revision, stop).ConfigureAwait(false);
            }
            catch (RpcException compacted) when (EtcdConnection.IsCompacted(compacted))
            {
                // Compacted again meanwhile: take the current state.
                snapshot = await _etcd.GetPrefixAsync(_topicsPrefix, 0, stop).ConfigureAwait(false);
                revision = snapshot.Header.Revision;
            }
        }
        catch (Exception error) when (error is RpcException or OperationCanceledException)
        {
            if (error is RpcException) Health.ReportFailure(error, started);
            return null;
        }

        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var entries = new List<LogEntry>();
        long position = Math.Max(after, EtcdPositions.Of(revision, EtcdPositions.SyntheticBase - 1));
        var current = snapshot.Kvs.ToDictionary(kv => kv.Key.ToStringUtf8()[_topicsPrefix.Length..], kv => kv.CreateRevision, StringComparer.Ordinal);
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

    /// <param name="Events">The changes of one watch answer, in revision order.</param>
    /// <param name="CompactRevision">Set when etcd cancelled the watch because its start had been compacted: the compaction point.</param>
    /// <param name="Stopped">The reader was cancelled.</param>
    private readonly record struct Step(IReadOnlyList<Mvccpb.Event>? Events, long? CompactRevision, bool Stopped);

    /// <summary>One <c>Watch</c> stream on the log key from a revision; the create request goes out with the first read.</summary>
    /// <remarks>
    /// etcd's stream itself rather than dotnet-etcd's <c>WatchAsync</c> callbacks: the log needs the compaction answer
    /// (<see cref="WatchResponse.CompactRevision"/>) and decides itself where to resume from, which the callbacks hide.
    /// </remarks>
    private sealed class LogWatch(EtcdConnection etcd, ByteString key, long startRevision, CancellationToken stop) : IDisposable
    {
        // "hasleader": etcd ends the stream when the member serving it loses its leader, instead of leaving a watch
        // open on a member cut off from the quorum (clientv3's WithRequireLeader).
        private readonly AsyncDuplexStreamingCall<WatchRequest, WatchResponse> _call =
            etcd.Client.GetConnection().WatchClient.Watch(new Metadata { { "hasleader", "true" } }, cancellationToken: stop);
        private bool _created;

        public async Task<WatchResponse?> NextAsync(CancellationToken cancellationToken)
        {
            if (!_created)
            {
                await _call.RequestStream.WriteAsync(
                    new WatchRequest { CreateRequest = new WatchCreateRequest { Key = key, StartRevision = startRevision } }, cancellationToken).ConfigureAwait(false);
                _created = true;
            }
            return await _call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false) ? _call.ResponseStream.Current : null;
        }

        public void Dispose() => _call.Dispose();
    }
}
