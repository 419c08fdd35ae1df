namespace Repl.Sse;

/// <summary>Running totals of the node's streams, read by <c>/metrics</c>.</summary>
public sealed class SseCounters
{
    private long _open;
    private long _delivered;
    private long _writes;
    private long _cutOff;
    private long _gaps;
    private long _wakes;
    private long _journalReads;
    private long _flushWaits;

    public long Open => Volatile.Read(ref _open);

    public long Delivered => Volatile.Read(ref _delivered);

    /// <summary>Writes that carried messages: <see cref="Delivered"/> / <see cref="Writes"/> is the batching achieved.</summary>
    public long Writes => Volatile.Read(ref _writes);

    /// <summary>Streams closed because their client stopped reading.</summary>
    public long CutOff => Volatile.Read(ref _cutOff);

    /// <summary>Gap events sent.</summary>
    public long Gaps => Volatile.Read(ref _gaps);

    /// <summary>Times a stream was woken by a topic's notification (at most once per applied batch or coalescing window).</summary>
    public long Wakes => Volatile.Read(ref _wakes);

    /// <summary>Pages streams read from the journal because they fell behind their topics' rings.</summary>
    public long JournalReads => Volatile.Read(ref _journalReads);

    /// <summary>Writes that found the client's socket full and waited for it.</summary>
    public long FlushWaits => Volatile.Read(ref _flushWaits);

    internal void FlushWaited() => Interlocked.Increment(ref _flushWaits);

    internal void Woken() => Interlocked.Increment(ref _wakes);

    internal void Opened() => Interlocked.Increment(ref _open);

    internal void Closed() => Interlocked.Decrement(ref _open);

    internal void Deliver(int messages)
    {
        Interlocked.Add(ref _delivered, messages);
        Interlocked.Increment(ref _writes);
    }

    internal void CutOne() => Interlocked.Increment(ref _cutOff);

    internal void Gap() => Interlocked.Increment(ref _gaps);

    internal void JournalRead() => Interlocked.Increment(ref _journalReads);
}
