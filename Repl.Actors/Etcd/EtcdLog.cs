using System.Runtime.CompilerServices;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Repl.Actors.Log;
using Repl.Actors.Storage;
using Repl.Actors.Topics;

namespace Repl.Actors.Etcd;

/// <summary>
/// The cluster log as a node reads it: etcd's watch of the single key <c>{prefix}/log</c>, whose versions are the
/// batches the sequencer committed (<see cref="EtcdJournal"/>), in revision order.
/// </summary>
/// <remarks>
/// <para><b>Keys.</b> <c>{prefix}/log</c>: the batch (see <see cref="LogBatchCodec"/>), one version per batch.
/// <c>{prefix}/head</c>: the log's last position. <c>{prefix}/topics/{name}</c>: exists while the topic does, written
/// in the same transaction as the batch that creates or deletes it, or changes its settings; its value is the position
/// that created the topic, then, when the topic has settings of its own, a space and their JSON
/// (<see cref="TopicKeyValue"/>). Read here only to resynchronise after a compaction.</para>
/// <para><b>Positions</b> come with each batch (its sequence numbers), the same on every node. A reader resumes from
/// an etcd revision (<see cref="ReadAsync"/>'s <c>fromRevision</c>, which the node's replica keeps with its entries)
/// and skips what it already applied.</para>
/// <para><b>Failures.</b> Every outcome is reported to <see cref="Health"/>. The watch (etcd's <c>Watch</c> stream,
/// opened with <c>hasleader</c> so a member that loses its leader ends it) is opened again, on whichever member the
/// channel picks, from the revision after the last one delivered, until disposed: no gap, no duplicate.</para>
/// <para><b>Compaction.</b> etcd keeps a window of revisions. A node that resumes from a compacted revision cannot
/// get what it missed (etcd answers the watch with its compaction revision and cancels it): it reads the topic set as
/// of the compaction point, synthesises the creates, deletes and settings that bring its topics there, and a
/// <see cref="LogEntryKind.Truncate"/> of every topic so readers resuming into the lost range get a gap; then it
/// continues from the compaction point. The synthesised entries take the last positions of the lost range.</para>
/// </remarks>
public sealed class EtcdLog : IAsyncDisposable
{
    private readonly EtcdConnection _etcd;
    private readonly EtcdLogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ByteString _logKey;
    private readonly string _topicsPrefix;
    private readonly CancellationTokenSource _disposed = new();
    // What the reader has handed out: topic → position that created it, and its settings (for the compaction resync).
    private readonly Dictionary<string, (long Created, TopicSettings Settings)> _topics;

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
        _topicsPrefix = TopicsPrefix(prefix);
        _topics = topics.ToDictionary(topic => topic.Name, topic => (topic.Created, TopicSettings.FromJson(topic.SettingsJson)), StringComparer.Ordinal);
    }

    /// <summary>Reachability of etcd as this log sees it.</summary>
    public LogHealth Health { get; }

    /// <summary>The key the log lives at.</summary>
    public static string LogKey(string prefix) => prefix.TrimEnd('/') + "/log";

    /// <summary>The position of the log's last entry (0: empty); a linearizable read.</summary>
    public async Task<long> HeadAsync(CancellationToken cancellationToken)
    {
        if (await _etcd.GetAsync(HeadKey(_options.Prefix), cancellationToken).ConfigureAwait(false) is { } mark) return ParseHead(mark.Value.Span);
        // A log written before the sequencer kept its head apart: the last batch says.
        var log = await _etcd.GetAsync(LogKey(_options.Prefix), cancellationToken).ConfigureAwait(false);
        return log is null ? 0 : LogBatchCodec.LastPosition(log.Value.Span, log.ModRevision);
    }

    /// <summary>The key of the log's last position (written with every batch, <see cref="EtcdStore.HeadKey"/>).</summary>
    public static string HeadKey(string prefix) => prefix.TrimEnd('/') + "/head";

    /// <summary>Where the topic keys live (<c>{prefix}/topics/{name}</c>, written with the batch that creates or deletes the topic).</summary>
    public static string TopicsPrefix(string prefix) => prefix.TrimEnd('/') + "/topics/";

    /// <summary>A topic key's value: the position that created the topic, then its settings' JSON after a space, if it has any.</summary>
    public static byte[] TopicKeyValue(long created, ReadOnlySpan<byte> settingsJson)
    {
        string position = created.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // "{}": no settings of its own, and the value stays what a create writes.
        if (settingsJson.Length <= 2) return System.Text.Encoding.UTF8.GetBytes(position);
        return [.. System.Text.Encoding.UTF8.GetBytes(position + " "), .. settingsJson];
    }

    /// <summary>The head key's value.</summary>
    public static long ParseHead(ReadOnlySpan<byte> value) =>
        long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long position) ? position : 0;

    /// <summary>The batches after position <paramref name="after"/>, watched from etcd revision <paramref name="fromRevision"/> on, each with its revision.</summary>
    /// <param name="fromRevision">The revision of the last batch applied (re-read, its entries up to <paramref name="after"/> skipped), or earlier; 0: the start.</param>
    /// <param name="cancellationToken">Ends the read.</param>
    internal IAsyncEnumerable<LogBatch> ReadAsync(long after, long fromRevision, CancellationToken cancellationToken) => ReadAsync(after, fromRevision, int.MaxValue, cancellationToken);

    /// <summary>
    /// The batches after position <paramref name="after"/>, watched from etcd revision <paramref name="fromRevision"/> on,
    /// each with its revision, and none longer than <paramref name="maxEntries"/> unless one committed batch is.
    /// </summary>
    /// <param name="fromRevision">The revision of the last batch applied (re-read, its entries up to <paramref name="after"/> skipped), or earlier; 0: the start.</param>
    /// <param name="maxEntries">
    /// A watch answer holds every revision etcd had ready (up to 1,000): its committed batches are delivered together up
    /// to this many entries, and apart beyond it (always at a committed batch's end, whose revision the delivery carries).
    /// </param>
    /// <param name="cancellationToken">Ends the read.</param>
    internal async IAsyncEnumerable<LogBatch> ReadAsync(long after, long fromRevision, int maxEntries, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        long next = Math.Max(1, fromRevision);
        LogWatch? watch = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                watch ??= new LogWatch(_etcd, _logKey, next, stop.Token);
                var step = await StepAsync(watch, stop.Token).ConfigureAwait(false);
                if (step.Events is { } events)
                {
                    Health.ReportSuccess();
                    var entries = new List<LogEntry>();
                    for (int i = 0; i < events.Count; i++)
                    {
                        var change = events[i];
                        long revision = change.Kv.ModRevision;
                        next = revision + 1;
                        if (change.Type == Mvccpb.Event.Types.EventType.Put) LogBatchCodec.Decode(change.Kv.Value.Span, revision, after, entries);
                        if (entries.Count == 0 || (entries.Count < maxEntries && i < events.Count - 1)) continue;
                        Track(entries);
                        after = entries[^1].Position;
                        yield return new LogBatch(entries, revision);
                        entries = [];
                    }
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

        // Everything up to the compaction point is lost to this node: the batch there holds the last lost position.
        long lost;
        try
        {
            var head = await _etcd.Client.GetAsync(new RangeRequest { Key = _logKey, Revision = revision }, deadline: _etcd.Deadline(), cancellationToken: stop)
                .ConfigureAwait(false);
            lost = head.Kvs.FirstOrDefault() is { } kv ? LogBatchCodec.LastPosition(kv.Value.Span, kv.ModRevision) : 0;
        }
        catch (Exception error) when (error is RpcException or OperationCanceledException)
        {
            if (error is RpcException) Health.ReportFailure(error, started);
            return null;
        }
        // Nothing lost after all (the revision this node resumed from was older than what it had applied).
        if (lost <= after) return ([], revision);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var changes = new List<(LogEntryKind Kind, string Topic, byte[] Settings, long Created)>();
        var current = snapshot.Kvs.ToDictionary(kv => kv.Key.ToStringUtf8()[_topicsPrefix.Length..], TopicKey, StringComparer.Ordinal);
        var local = new Dictionary<string, (long Created, TopicSettings Settings)>(_topics, StringComparer.Ordinal);
        foreach (var (name, (created, _)) in _topics)
        {
            // Gone, or deleted and created again while this node was away.
            if (!current.TryGetValue(name, out var there) || there.Created > created)
            {
                changes.Add((LogEntryKind.DeleteTopic, name, [], 0));
                local.Remove(name);
            }
        }
        changes.AddRange(current.Where(topic => !local.ContainsKey(topic.Key)).Select(topic => (LogEntryKind.CreateTopic, topic.Key, Array.Empty<byte>(), 0L)));
        // Settings changed while away (a topic created again starts with none): each change took a position in the lost
        // range too, so they fit there with the creates and deletes.
        foreach (var (name, there) in current)
        {
            var settings = local.TryGetValue(name, out var known) ? known.Settings : TopicSettings.None;
            if (settings != there.Settings) changes.Add((LogEntryKind.Settings, name, there.Settings.ToJson(), there.Created));
        }
        // The synthesised entries take the last positions of the lost range, so the log's own go on after them: each
        // create, delete and settings change took a position there, so they fit. Then one truncate of every topic through the range
        // (empty topic), so a stream resuming into it gets a gap. It fits too unless the lost range held nothing but
        // those topic changes, and then nothing else was lost.
        if (changes.Count < lost - after) changes.Add((LogEntryKind.Truncate, "", [], 0));
        var entries = new List<LogEntry>();
        long position = lost - changes.Count;
        foreach (var (kind, name, settings, created) in changes) entries.Add(new LogEntry(++position, kind, name, settings, now, created));
        _logger.LogWarning("Resynchronised with the cluster log at revision {Revision}: {Topics} topics, history before it incomplete on this node", revision, current.Count);
        return (entries, revision);
    }

    /// <summary>
    /// A topic key read back (<see cref="TopicKeyValue"/>): the position of the topic's create (from its revision when
    /// written before the sequencer kept positions) and its settings.
    /// </summary>
    private static (long Created, TopicSettings Settings) TopicKey(Mvccpb.KeyValue kv)
    {
        var value = kv.Value.Span;
        int space = value.IndexOf((byte)' ');
        var settings = space < 0 ? TopicSettings.None : TopicSettings.FromJson(value[(space + 1)..]);
        if (space >= 0) value = value[..space];
        return long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long position)
            ? (position, settings)
            : (EtcdPositions.Of(kv.CreateRevision, 0), settings);
    }

    private void Track(List<LogEntry> entries)
    {
        foreach (var entry in entries)
        {
            if (entry.Kind == LogEntryKind.CreateTopic) _topics.TryAdd(entry.Topic, (entry.Position, TopicSettings.None));
            else if (entry.Kind == LogEntryKind.DeleteTopic) _topics.Remove(entry.Topic);
            else if (entry.Kind == LogEntryKind.Settings && _topics.TryGetValue(entry.Topic, out var topic))
                _topics[entry.Topic] = (topic.Created, TopicSettings.FromJson(entry.Message));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested) return;
        await _disposed.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>One committed batch as read, and the etcd revision it was committed at.</summary>
    internal sealed record LogBatch(IReadOnlyList<LogEntry> Entries, long Revision);

    /// <param name="Events">The changes of one watch answer, in revision order.</param>
    /// <param name="CompactRevision">Set when etcd cancelled the watch because its start had been compacted: the compaction point.</param>
    /// <param name="Stopped">The reader was cancelled.</param>
    private readonly record struct Step(IReadOnlyList<Mvccpb.Event>? Events, long? CompactRevision, bool Stopped);

    /// <summary>One <c>Watch</c> stream on the log key from a revision; the create request goes out with the first read.</summary>
    /// <remarks>
    /// etcd's stream itself rather than dotnet-etcd's <c>WatchAsync</c> callbacks: the log needs the compaction answer
    /// (<see cref="WatchResponse.CompactRevision"/>) and decides itself where to resume from, which the callbacks hide.
    /// <c>fragment</c>: etcd answers a watch that is behind with up to 1,000 revisions at once, which can be a whole
    /// backlog in one message; fragmented, no answer is larger than etcd's request limit or one event, each event whole.
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
                    new WatchRequest { CreateRequest = new WatchCreateRequest { Key = key, StartRevision = startRevision, Fragment = true } }, cancellationToken).ConfigureAwait(false);
                _created = true;
            }
            return await _call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false) ? _call.ResponseStream.Current : null;
        }

        public void Dispose() => _call.Dispose();
    }
}
