using Repl.Actors.Messages;

namespace Repl.Actors.Topics;

/// <summary>
/// A topic's recent framed messages: one writer (the log reader), any number of lock-free readers (sinks).
/// </summary>
/// <remarks>
/// Slots are overwritten in order once the ring is full. A reader checks each frame's sequence number, so a
/// slot overwritten under it is detected, never misread; it then falls back to the journal.
/// </remarks>
internal sealed class FrameRing
{
    private readonly Frame?[] _slots;
    private readonly int _mask;
    private long _count;
    private long _coveredFrom;

    /// <param name="capacity">Rounded up to a power of two.</param>
    /// <param name="coveredFrom">Every message of the topic after this position will be in the ring.</param>
    public FrameRing(int capacity, long coveredFrom)
    {
        int size = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, capacity));
        _slots = new Frame?[size];
        _mask = size - 1;
        _coveredFrom = coveredFrom;
    }

    /// <summary>Every message of the topic after this position is in the ring.</summary>
    public long CoveredFrom => Volatile.Read(ref _coveredFrom);

    /// <summary>Frames held now.</summary>
    public int Count => (int)Math.Min(Volatile.Read(ref _count), _slots.Length);

    /// <summary>Appends the next frame; only the log reader calls this.</summary>
    public void Append(Frame frame)
    {
        long sequence = _count;
        ref var slot = ref _slots[sequence & _mask];
        if (slot is { } evicted)
        {
            // Readers must see the ring's coverage shrink before the slot changes under them.
            Volatile.Write(ref _coveredFrom, evicted.Position);
        }
        frame.Sequence = sequence;
        Volatile.Write(ref slot, frame);
        Volatile.Write(ref _count, sequence + 1);
    }

    /// <summary>
    /// Adds the frames with <paramref name="after"/> &lt; position ≤ <paramref name="upTo"/> to <paramref name="into"/>,
    /// in order, stopping once <paramref name="maxBytes"/> is reached.
    /// </summary>
    /// <returns>False when the ring does not hold everything after <paramref name="after"/>: read the journal.</returns>
    public bool TryRead(long after, long upTo, List<Frame> into, int maxBytes)
    {
        int start = into.Count;
        if (after < CoveredFrom) return false;
        long end = Volatile.Read(ref _count);
        long low = Math.Max(0, end - _slots.Length), high = end;
        // First sequence whose frame is after the cursor: positions increase with sequence numbers.
        while (low < high)
        {
            long middle = (low + high) >>> 1;
            var frame = Volatile.Read(ref _slots[middle & _mask]);
            if (frame is null || frame.Sequence != middle) return Retreat(into, start);
            if (frame.Position <= after) low = middle + 1;
            else high = middle;
        }
        int bytes = 0;
        for (long sequence = low; sequence < end && bytes < maxBytes; sequence++)
        {
            var frame = Volatile.Read(ref _slots[sequence & _mask]);
            if (frame is null || frame.Sequence != sequence) return Retreat(into, start);
            if (frame.Position > upTo) break;
            into.Add(frame);
            bytes += frame.Bytes.Length;
        }
        // A frame after the cursor evicted while we read would leave a hole: let the journal answer instead.
        return after >= CoveredFrom || Retreat(into, start);
    }

    private static bool Retreat(List<Frame> into, int start)
    {
        into.RemoveRange(start, into.Count - start);
        return false;
    }
}
