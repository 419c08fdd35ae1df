using System.Buffers;
using System.IO.Pipelines;
using Repl.Actors.Journal;
using Repl.Actors.Messages;
using Repl.Actors.Topics;

namespace Repl.Sse;

/// <summary>
/// One SSE connection: a cursor into its topics' framed history and a writer loop.
/// </summary>
/// <remarks>
/// <para><b>Order and resume.</b> The cursor is a log position. Each round the sink takes the node's applied
/// watermark W and writes every frame of its topics in (cursor, W], in position order, then moves the cursor
/// to W. Frames at or below W are all in place, so a stream over several topics is still in log order and
/// one <c>Last-Event-ID</c> resumes it exactly.</para>
/// <para><b>Adaptive batching.</b> Everything pending is written in one go and flushed once: one message when
/// traffic is light (lowest latency), thousands when it is heavy (fewest syscalls).</para>
/// <para><b>Slow clients.</b> The sink holds no queue of its own: what it has not sent stays in the topic's
/// ring or in the journal. It writes at most <see cref="SseOptions.MaxWriteBytes"/> per round and waits for
/// the socket before the next, so its memory is bounded; when it falls behind the ring it catches up from
/// the journal; when its socket takes nothing for <see cref="SseOptions.StallTimeout"/> it is cut off.
/// Nothing it does slows another sink.</para>
/// </remarks>
public sealed class SseSink : ISubscriber
{
    private readonly List<TopicActor> _topics;
    private readonly TopicRegistry _registry;
    private readonly Journal _journal;
    private readonly SseOptions _options;
    private readonly SseCounters _counters;
    private readonly AsyncSignal _signal = new();
    private readonly List<Frame> _frames = [];
    private readonly Dictionary<string, long> _gapsReported = new(StringComparer.Ordinal);
    private readonly Lock _deletedGate = new();
    private List<TopicActor>? _deleted;
    private long _cursor;
    private long _lastWriteMs = Environment.TickCount64;
    private int _queued;
    private TimeProvider _time = TimeProvider.System;

    /// <param name="cursor">Last position the client has (its <c>Last-Event-ID</c>), or null to start live.</param>
    public SseSink(IReadOnlyList<TopicActor> topics, TopicRegistry registry, Journal journal, SseOptions options, SseCounters counters, long? cursor)
    {
        _topics = [.. topics];
        _registry = registry;
        _journal = journal;
        _options = options;
        _counters = counters;
        _cursor = cursor ?? long.MinValue;
    }

    /// <summary>When set, the stream ends at this time with <c>event: expired</c> (the subscriber's token ran out).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>
    /// When it fires, the stream ends with <c>event: unavailable</c> (<see cref="UnavailableReason"/>): the node lost
    /// its log and the client should reconnect, with its <c>Last-Event-ID</c>, to another node.
    /// </summary>
    public CancellationToken Unavailable { get; init; }

    public string UnavailableReason { get; init; } = "this node lost its connection to the cluster log; reconnect to another node";

    /// <summary>Where the stream has got to.</summary>
    public long Cursor => Volatile.Read(ref _cursor);

    /// <summary>Where the stream's write rounds run, and when (see <see cref="Sse.FanOut"/>); null: on the pool, at once.</summary>
    public FanOut? FanOut { get; init; }

    void ISubscriber.Notify()
    {
        if (FanOut is null)
        {
            _signal.Set();
            return;
        }
        // Queued once until resumed; later notifications before then are covered by that round.
        if (Interlocked.Exchange(ref _queued, 1) == 1) return;
        if (FanOut.Window.TotalMilliseconds is > 0 and var window && Environment.TickCount64 - Volatile.Read(ref _lastWriteMs) < window)
        {
            FanOut.Hold(this);
            return;
        }
        FanOut.Schedule(this);
    }

    /// <summary>Resumes the writer loop: on the calling thread (the fan-out thread), or on the pool.</summary>
    internal void Resume(bool inline)
    {
        Volatile.Write(ref _queued, 0);
        _signal.Set(inline);
    }

    /// <summary>Wakes the writer when a ping is due or the token has expired; the node calls this about once a second.</summary>
    void ISubscriber.Heartbeat()
    {
        if (PingDue(Environment.TickCount64) || Expired()) _signal.Set();
    }

    void ISubscriber.OnTopicDeleted(TopicActor topic)
    {
        lock (_deletedGate) (_deleted ??= []).Add(topic);
        _signal.Set();
    }

    /// <summary>
    /// Streams until the client goes away, the token expires, all topics are deleted or <paramref name="cancellationToken"/> fires.
    /// </summary>
    /// <param name="abort">Drops the connection; called when the client stalls.</param>
    public async Task RunAsync(PipeWriter writer, string node, TimeProvider time, Action abort, CancellationToken cancellationToken)
    {
        _time = time;
        foreach (var topic in _topics)
        {
            if (!topic.Subscribe(this)) ((ISubscriber)this).OnTopicDeleted(topic);
        }
        // Subscribed first, then the watermark: anything applied after it wakes us.
        if (_cursor == long.MinValue) _cursor = _registry.AppliedPosition;
        using var wake = cancellationToken.Register(static signal => ((AsyncSignal)signal!).Set(), _signal);
        using var unavailable = Unavailable.Register(static signal => ((AsyncSignal)signal!).Set(), _signal);
        _counters.Opened();
        try
        {
            writer.Write(SseEvents.Connected(_options.Retry, _topics.Select(topic => topic.Name), node, _cursor));
            if (!await FlushAsync(writer, abort, cancellationToken).ConfigureAwait(false)) return;
            while (!cancellationToken.IsCancellationRequested)
            {
                if (TakeDeleted(writer) && _topics.Count == 0)
                {
                    await FlushAsync(writer, abort, cancellationToken).ConfigureAwait(false);
                    return;
                }
                long watermark = _registry.AppliedPosition;
                if (watermark > _cursor)
                {
                    if (!TryCollect(writer, watermark, out int count))
                    {
                        // Behind the rings: the journal read blocks, so it must not hold the fan-out thread.
                        await Task.Yield();
                        continue;
                    }
                    if (!await FlushAsync(writer, abort, cancellationToken).ConfigureAwait(false)) return;
                    _counters.Deliver(count);
                    continue;
                }
                if (Expired())
                {
                    writer.Write(SseEvents.Closing("expired", "the access token expired; reconnect with a new token"));
                    await FlushAsync(writer, abort, cancellationToken).ConfigureAwait(false);
                    return;
                }
                if (Unavailable.IsCancellationRequested)
                {
                    writer.Write(SseEvents.Closing("unavailable", UnavailableReason));
                    await FlushAsync(writer, abort, cancellationToken).ConfigureAwait(false);
                    return;
                }
                if (PingDue(Environment.TickCount64))
                {
                    writer.Write(SseEvents.Ping);
                    if (!await FlushAsync(writer, abort, cancellationToken).ConfigureAwait(false)) return;
                    continue;
                }
                await _signal.WaitAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            foreach (var topic in _topics) topic.Unsubscribe(this);
            _counters.Closed();
        }
    }

    private bool PingDue(long nowMs) => nowMs - Volatile.Read(ref _lastWriteMs) >= _options.PingInterval.TotalMilliseconds;

    private bool Expired() => ExpiresAt is { } expires && _time.GetUtcNow() >= expires;

    /// <summary>
    /// Writes the frames in (cursor, watermark], up to the write budget, and moves the cursor; false, having
    /// written nothing, when that needs the journal and this is the fan-out thread.
    /// </summary>
    private bool TryCollect(PipeWriter writer, long watermark, out int count)
    {
        _frames.Clear();
        long cursor = _cursor;
        count = 0;
        if (FromMemory(cursor, watermark) is not { } reached)
        {
            if (FanOut.OnThread) return false;
            reached = FromJournal(writer, cursor, watermark);
        }
        WriteFrames(writer, _frames);
        Volatile.Write(ref _cursor, reached);
        count = _frames.Count;
        return true;
    }

    /// <summary>
    /// Copies frames into as few pipe segments as they fit in. Kestrel frames every Advance as its own HTTP chunk
    /// (header, lock); one Write per frame made that the top cost of a fan-out round in the bench profile.
    /// </summary>
    private static void WriteFrames(PipeWriter writer, List<Frame> frames)
    {
        int next = 0;
        while (next < frames.Count)
        {
            var span = writer.GetSpan(frames[next].Bytes.Length);
            int used = 0;
            while (next < frames.Count && frames[next].Bytes.Length <= span.Length - used)
            {
                frames[next].Bytes.CopyTo(span[used..]);
                used += frames[next].Bytes.Length;
                next++;
            }
            writer.Advance(used);
        }
    }

    /// <summary>Reads the topics' rings; null when one of them does not cover the cursor.</summary>
    private long? FromMemory(long cursor, long watermark)
    {
        long reached = watermark;
        foreach (var topic in _topics)
        {
            int start = _frames.Count;
            if (!topic.TryRead(cursor, watermark, _frames, _options.MaxWriteBytes))
            {
                _frames.Clear();
                return null;
            }
            long bytes = 0;
            for (int i = start; i < _frames.Count; i++) bytes += _frames[i].Bytes.Length;
            // This topic may have stopped at its byte budget: go no further than its last frame this round.
            if (bytes >= _options.MaxWriteBytes) reached = Math.Min(reached, _frames[^1].Position);
        }
        if (_topics.Count > 1)
        {
            _frames.Sort(static (a, b) => a.Position.CompareTo(b.Position));
            if (reached < watermark) _frames.RemoveAll(frame => frame.Position > reached);
        }
        return reached;
    }

    private long FromJournal(PipeWriter writer, long cursor, long watermark)
    {
        var names = new List<string>(_topics.Count);
        foreach (var topic in _topics)
        {
            names.Add(topic.Name);
            long trimmed = topic.TrimmedThrough;
            if (cursor < trimmed && (!_gapsReported.TryGetValue(topic.Name, out long reported) || reported < trimmed))
            {
                _gapsReported[topic.Name] = trimmed;
                long oldest = _journal.Stats(topic.Name).FirstPosition;
                writer.Write(SseEvents.Gap(topic.Name, cursor, oldest == 0 ? trimmed + 1 : oldest));
                _counters.Gap();
            }
        }
        // Bounded by rows and by bytes, like a round from memory: a stream catching up holds one write's worth.
        var stored = _journal.Read(names, cursor, watermark, _options.JournalPageSize, _options.MaxWriteBytes);
        long bytes = 0;
        foreach (var message in stored)
        {
            _frames.Add(new Frame(message.Position, message.Topic, MessageJson.Frame(message.Position, message.Json)));
            bytes += message.Json.Length;
        }
        // A page cut short by neither bound holds everything up to the watermark.
        bool complete = stored.Count < _options.JournalPageSize && bytes < _options.MaxWriteBytes;
        return complete ? watermark : stored[^1].Position;
    }

    private bool TakeDeleted(PipeWriter writer)
    {
        List<TopicActor>? deleted;
        lock (_deletedGate)
        {
            deleted = _deleted;
            _deleted = null;
        }
        if (deleted is null) return false;
        foreach (var topic in deleted)
        {
            if (_topics.Remove(topic)) writer.Write(SseEvents.Deleted(topic.Name));
        }
        return true;
    }

    /// <summary>Flushes; false when the stream is over (client gone, or cut off after stalling).</summary>
    private async ValueTask<bool> FlushAsync(PipeWriter writer, Action abort, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _lastWriteMs, Environment.TickCount64);
        var flush = writer.FlushAsync(cancellationToken);
        FlushResult result;
        if (flush.IsCompletedSuccessfully)
        {
            result = flush.Result;
        }
        else
        {
            try
            {
                result = await flush.AsTask().WaitAsync(_options.StallTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _counters.CutOne();
                abort();
                return false;
            }
        }
        return !result.IsCanceled && !result.IsCompleted;
    }
}
