using System.Numerics;

namespace Repl.Bench;

/// <summary>
/// A log-linear histogram of microseconds (HDR-style: 32 linear sub-buckets per power of two above 64 µs, so any
/// value is kept within 1/32 ≈ 3 % of its size), safe to record into from any thread.
/// </summary>
/// <remarks>Recording is one <see cref="Interlocked.Increment(ref long)"/>: no lock, no allocation, no Task.</remarks>
internal sealed class LatencyHistogram
{
    private const int SubBits = 6;
    private const int Sub = 1 << SubBits;
    private const int Half = Sub / 2;
    private readonly long[] _counts = new long[Sub + (64 - SubBits) * Half];
    private long _max;
    private long _total;
    private long _sum;

    public long Count => Volatile.Read(ref _total);

    public void Record(long micros)
    {
        if (micros < 0) micros = 0;
        Interlocked.Increment(ref _counts[Index(micros)]);
        Interlocked.Increment(ref _total);
        Interlocked.Add(ref _sum, micros);
        long max = Volatile.Read(ref _max);
        while (micros > max)
        {
            long seen = Interlocked.CompareExchange(ref _max, micros, max);
            if (seen == max) break;
            max = seen;
        }
    }

    public double MeanMicros => Count == 0 ? 0 : (double)Volatile.Read(ref _sum) / Count;

    public long MaxMicros => Volatile.Read(ref _max);

    /// <summary>The value at or below which <paramref name="quantile"/> of the samples lie (upper edge of its bucket, capped at max).</summary>
    public long ValueAt(double quantile)
    {
        long total = Count;
        if (total == 0) return 0;
        long rank = (long)Math.Ceiling(quantile * total);
        if (rank < 1) rank = 1;
        long seen = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            seen += Volatile.Read(ref _counts[i]);
            if (seen >= rank) return Math.Min(UpperEdge(i), MaxMicros);
        }
        return MaxMicros;
    }

    private static int Index(long value)
    {
        if (value < Sub) return (int)value;
        int msb = 63 - BitOperations.LeadingZeroCount((ulong)value);
        int shift = msb - SubBits + 1; // ≥ 1; value >> shift is then in [Half, Sub)
        return Sub + (shift - 1) * Half + (int)(value >> shift) - Half;
    }

    private static long UpperEdge(int index)
    {
        if (index < Sub) return index;
        int k = index - Sub;
        int shift = k / Half + 1;
        long top = k % Half + Half;
        return ((top + 1) << shift) - 1;
    }
}
