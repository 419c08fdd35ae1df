using System.Runtime.CompilerServices;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Repl.Actors.Cluster.Etcd;
using Repl.Actors.Journal;
using Repl.Actors.Log;

namespace Repl.Actors.Cluster;

/// <summary>
/// The cluster log as a node reads it: etcd's watch of the single key <c>{prefix}/log</c>, whose versions are the
/// batches the sequencer committed (<see cref="Persistence.EtcdJournal"/>), in revision order.
/// </summary>
/// <remarks>
/// <para><b>Keys.</b> <c>{prefix}/log</c>: the batch (see <see cref="LogBatchCodec"/>), one version per batch.
/// <c>{prefix}/topics/{name}</c>: exists while the topic does, written in the same transaction as the batch that
/// creates or deletes it; read here only to resynchronise after a compaction.</para>
/// <para><b>Positions</b> come with each batch (its sequence numbers), the same on every node. A reader resumes from
/// an etcd revision (<see cref="ReadAsync"/>'s <c>fromRevision</c>, which the node's replica remembers with its entries)
/// and skips what it already applied.</para>
/// <para><b>Failures.</b> Every outcome is reported to <see cref="Health"/>; the watch retries until disposed.</para>
/// <para><b>Compaction.</b> etcd keeps a window of revisions. A node that resumes from a compacted revision cannot
/// get what it missed: it reads the topic set as of the compaction point, synthesises the creates and deletes that
/// bring its topics there, and a <see cref="LogEntryKind.Truncate"/> per topic so readers resuming into the lost range
/// get a gap; then it continues from the compaction point. The synthesised entries take the last positions of the
/// lost range (see <see cref="ResyncAsync"/>).</para>
/// </remarks>
public sealed class EtcdLog : IAsyncDisposable
{
    private readonly EtcdClient _client;
    private readonly EtcdLogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly byte[] _logKey;
    private readonly string _topicsPrefix;
    private readonly CancellationTokenSource _disposed = new();
    // What the reader has handed out: topic → position that created it (for the compaction resync).
    private readonly Dictionary<string, long> _topics;
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
        _topicsPrefix = $"{prefix}/topics/";
        _topics = topics.ToDictionary(topic => topic.Name, topic => topic.Created, StringComparer.Ordinal);
    }

    /// <summary>Reachability of etcd as this log sees it.</summary>
    public LogHealth Health { get; }

    /// <summary>The etcd revision of the last batch this node's reader delivered.</summary>
    public long DeliveredRevision => Volatile.Read(ref _lastDelivered);

    /// <summary>The position of the log's last entry (0: empty); a linearizable read.</summary>
    public async Task<long> HeadAsync(CancellationToken cancellationToken)
    {
        var head = await _client.RangeAsync(HeadKey(_options.Prefix), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (head.Kvs.FirstOrDefault() is { } mark) return ParseHead(mark.Value);
        // A log written before the sequencer kept its head apart: the last batch says.
        var log = await _client.RangeAsync(_logKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        return log.Kvs.FirstOrDefault() is { } kv ? LogBatchCodec.LastPosition(kv.Value, kv.ModRevision) : 0;
    }

    /// <summary>The key of the log's last position (written with every batch, <see cref="Persistence.EtcdStore.HeadKey"/>).</summary>
    public static string HeadKey(string prefix) => prefix.TrimEnd('/') + "/head";

    /// <summary>The head key's value.</summary>
    public static long ParseHead(ReadOnlySpan<byte> value) =>
        long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long position) ? position : 0;

    /// <summary>The key the log lives at.</summary>
    public static string LogKey(string prefix) => prefix.TrimEnd('/') + "/log";

    /// <summary>The batches after position <paramref name="after"/>, watched from etcd revision <paramref name="fromRevision"/> on, each with its revision.</summary>
    /// <param name="fromRevision">The revision of the last batch applied (re-read, its entries up to <paramref name="after"/> skipped), or earlier; 0: the start.</param>
    public async IAsyncEnumerable<LogBatch> ReadAsync(long after, long fromRevision, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        long next = Math.Max(1, fromRevision);
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
                    long revision = next;
                    foreach (var change in batch.Events)
                    {
                        revision = change.Kv.ModRevision;
                        next = revision + 1;
                        if (change.Type != WatchEventType.Put) continue;
                        LogBatchCodec.Decode(change.Kv.Value, revision, after, entries);
                    }
                    Health.ReportSuccess();
                    if (entries.Count > 0)
                    {
                        Track(entries);
                        after = entries[^1].Position;
                        yield return new LogBatch(entries, revision);
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
                        yield return new LogBatch(resync.Value.Entries, resync.Value.Revision);
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

        // Everything up to the compaction point is lost to this node: the batch there holds the last lost position.
        long lost;
        try
        {
            var head = await _client.RangeAsync(_logKey, revision: revision, cancellationToken: stop).ConfigureAwait(false);
            lost = head.Kvs.FirstOrDefault() is { } kv ? LogBatchCodec.LastPosition(kv.Value, kv.ModRevision) : 0;
        }
        catch (Exception error) when (error is EtcdException or OperationCanceledException)
        {
            if (error is EtcdException) Health.ReportFailure(error, started);
            return null;
        }
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var changes = new List<(LogEntryKind Kind, string Topic)>();
        var current = snapshot.Kvs.ToDictionary(kv => kv.KeyString[_topicsPrefix.Length..], CreatedAt, StringComparer.Ordinal);
        var local = new Dictionary<string, long>(_topics, StringComparer.Ordinal);
        foreach (var (name, created) in _topics)
        {
            // Gone, or deleted and created again while this node was away.
            if (!current.TryGetValue(name, out long createdThere) || createdThere > created)
            {
                changes.Add((LogEntryKind.DeleteTopic, name));
                local.Remove(name);
            }
        }
        changes.AddRange(current.Keys.Where(name => !local.ContainsKey(name)).Select(name => (LogEntryKind.CreateTopic, name)));
        changes.AddRange(current.Keys.Select(name => (LogEntryKind.Truncate, name)));
        // The synthesised entries take the last positions of the lost range, so the log's own go on after them. Each
        // create and delete took a position there, so those fit; in a lost range shorter than the topic count some
        // truncates may not, and the topics they name then get no gap for it (said in the log).
        var entries = new List<LogEntry>();
        long position = Math.Max(after, lost - changes.Count);
        foreach (var (kind, name) in changes)
        {
            if (position >= lost) break;
            entries.Add(new LogEntry(++position, kind, name, [], now));
        }
        if (entries.Count < changes.Count)
        {
            _logger.LogError("Resynchronising after a compaction: {Missing} of {Count} topics get no gap event for the lost range (it is shorter than the topic count)",
                changes.Count - entries.Count, changes.Count);
        }
        _logger.LogWarning("Resynchronised with the cluster log at revision {Revision}: {Topics} topics, history before it incomplete on this node", revision, current.Count);
        return (entries, revision);
    }

    /// <summary>The position of a topic key's create: its value (written by the sequencer's journal), or from its revision (written before).</summary>
    private static long CreatedAt(EtcdKeyValue kv) =>
        long.TryParse(kv.ValueString, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long position)
            ? position
            : EtcdPositions.Of(kv.CreateRevision, 0);

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
        await _disposed.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>One committed batch as read, and the etcd revision it was committed at.</summary>
    public sealed record LogBatch(IReadOnlyList<LogEntry> Entries, long Revision);

    private readonly record struct Step(WatchBatch? Batch, EtcdCompactedException? Compacted, bool Stopped);
}
