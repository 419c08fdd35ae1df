namespace Repl.Actors.Topics;

/// <summary>
/// A topic's presence events on this node, for its <c>?presence=1</c> streams: a version, a bounded ring of the last
/// events, and the counts as of the last batch. One writer (the node's presence reporter), lock-free readers (streams).
/// </summary>
/// <remarks>
/// <para><b>No queue per stream.</b> A stream remembers the version it has told and, when woken, reads the ring after
/// it. One that fell out of the ring (a slow reader, a burst bigger than the ring) gets the counts instead
/// (<see cref="Snapshot"/>), as one <c>event: presence</c>.</para>
/// <para><b>Order.</b> The writer puts a batch's entries in their slots, then the batch's counts, then the version: a
/// reader that sees a version finds every entry up to it (or learns it was overwritten, by its version), and counts
/// at least that recent.</para>
/// <para><b>Size.</b> The ring starts at <see cref="MinCapacity"/> entries and doubles, up to <see cref="MaxCapacity"/>,
/// when a batch needs more than half of it: a quiet topic holds a few events, one with a hundred clients a batch of
/// their joins.</para>
/// </remarks>
public sealed class PresenceFeed
{
    /// <summary>Entries a new feed holds.</summary>
    public const int MinCapacity = 16;

    /// <summary>Entries a feed holds at most.</summary>
    public const int MaxCapacity = 4096;

    /// <summary>One event, or a marker with no bytes that the stream of <see cref="Client"/> is counted (see <see cref="TryFindCounted"/>).</summary>
    private sealed class Entry(long version, string? client, byte[]? bytes)
    {
        public readonly long Version = version;
        public readonly string? Client = client;
        public readonly byte[]? Bytes = bytes;
    }

    /// <summary>The counts as of <see cref="Version"/>: an <c>event: presence</c>.</summary>
    public sealed record Counts(byte[] Bytes, long Version);

    private readonly Lock _subscribersGate = new();
    private ISubscriber[] _subscribers = [];
    private Entry?[] _slots = new Entry?[MinCapacity];
    private Counts? _snapshot;
    private long _version;

    /// <summary>How many entries were ever written: the version a reader has seen everything up to.</summary>
    public long Version => Volatile.Read(ref _version);

    /// <summary>The counts of the last batch, null before the first.</summary>
    public Counts? Snapshot => Volatile.Read(ref _snapshot);

    /// <summary>The streams to wake on a batch.</summary>
    public void Subscribe(ISubscriber subscriber)
    {
        lock (_subscribersGate) _subscribers = [.. _subscribers, subscriber];
    }

    public void Unsubscribe(ISubscriber subscriber)
    {
        lock (_subscribersGate)
        {
            int index = Array.IndexOf(_subscribers, subscriber);
            if (index >= 0) _subscribers = [.. _subscribers.AsSpan(0, index), .. _subscribers.AsSpan(index + 1)];
        }
    }

    /// <summary>Whether a stream reads this feed.</summary>
    public bool IsWatched => Volatile.Read(ref _subscribers).Length > 0;

    /// <summary>
    /// The writer only: appends a batch — events (bytes) and counted-markers (a client, no bytes) — then its counts, and
    /// wakes the streams.
    /// </summary>
    public void Publish(IReadOnlyList<(string? Client, byte[]? Bytes)> entries, byte[] counts)
    {
        var slots = _slots;
        if (entries.Count * 2 > slots.Length && slots.Length < MaxCapacity) slots = Grow(entries.Count * 2);
        long version = _version;
        int mask = slots.Length - 1;
        foreach (var (client, bytes) in entries)
        {
            version++;
            Volatile.Write(ref slots[version & mask], new Entry(version, client, bytes));
        }
        Volatile.Write(ref _snapshot, new Counts(counts, version));
        Volatile.Write(ref _version, version);
        foreach (var subscriber in Volatile.Read(ref _subscribers)) subscriber.Notify();
    }

    /// <summary>
    /// Adds the events after <paramref name="after"/> up to <paramref name="upTo"/> to <paramref name="into"/>, but
    /// those of <paramref name="skip"/> (the stream's own client). False, with nothing added, when the ring no longer
    /// holds them all: tell <see cref="Snapshot"/> instead.
    /// </summary>
    public bool TryRead(long after, long upTo, string? skip, List<byte[]> into)
    {
        var slots = Volatile.Read(ref _slots);
        if (upTo - after > slots.Length) return false;
        int start = into.Count;
        for (long version = after + 1; version <= upTo; version++)
        {
            var entry = Volatile.Read(ref slots[version & (slots.Length - 1)]);
            if (entry is null || entry.Version != version)
            {
                into.RemoveRange(start, into.Count - start);
                return false;
            }
            if (entry.Bytes is { } bytes && !string.Equals(entry.Client, skip, StringComparison.Ordinal)) into.Add(bytes);
        }
        return true;
    }

    /// <summary>
    /// Whether the entries after <paramref name="after"/> up to <paramref name="upTo"/> say that <paramref name="client"/>
    /// is counted (its join reached the topic's entity), or the ring no longer holds them: either way the stream can
    /// start from the counts.
    /// </summary>
    public bool TryFindCounted(long after, long upTo, string? client)
    {
        var slots = Volatile.Read(ref _slots);
        if (upTo - after > slots.Length) return true;
        for (long version = after + 1; version <= upTo; version++)
        {
            var entry = Volatile.Read(ref slots[version & (slots.Length - 1)]);
            if (entry is null || entry.Version != version) return true;
            if (entry.Bytes is null && string.Equals(entry.Client, client, StringComparison.Ordinal)) return true;
        }
        return false;
    }

    /// <summary>A bigger ring with the entries of the old one, published before any new entry goes in it.</summary>
    private Entry?[] Grow(int needed)
    {
        var old = _slots;
        int size = (int)Math.Min(MaxCapacity, System.Numerics.BitOperations.RoundUpToPowerOf2((uint)needed));
        var slots = new Entry?[size];
        foreach (var entry in old)
        {
            if (entry is not null) slots[entry.Version & (size - 1)] = entry;
        }
        Volatile.Write(ref _slots, slots);
        return slots;
    }
}
