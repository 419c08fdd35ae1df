using System.Globalization;
using System.Text;

namespace Repl.Host.Metrics;

/// <summary>A Prometheus histogram of durations in seconds: fixed buckets, lock-free observation.</summary>
internal sealed class LatencyHistogram
{
    /// <summary>Upper bounds in seconds: 100 µs to 10 s, roughly ×2.5 apart.</summary>
    public static readonly double[] Bounds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly long[] _buckets = new long[Bounds.Length + 1];
    private long _sumTicks;

    public long Count
    {
        get
        {
            long total = 0;
            for (int i = 0; i < _buckets.Length; i++) total += Interlocked.Read(ref _buckets[i]);
            return total;
        }
    }

    public void Observe(TimeSpan duration)
    {
        double seconds = duration.TotalSeconds;
        int index = 0;
        while (index < Bounds.Length && seconds > Bounds[index]) index++;
        Interlocked.Increment(ref _buckets[index]);
        Interlocked.Add(ref _sumTicks, duration.Ticks);
    }

    /// <summary>Writes <c>_bucket</c> (cumulative), <c>_sum</c> and <c>_count</c> lines.</summary>
    public void WriteTo(StringBuilder text, string name, string help)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(" histogram\n");
        long cumulative = 0;
        for (int i = 0; i < _buckets.Length; i++)
        {
            cumulative += Interlocked.Read(ref _buckets[i]);
            string bound = i < Bounds.Length ? Bounds[i].ToString("R", CultureInfo.InvariantCulture) : "+Inf";
            text.Append(name).Append("_bucket{le=\"").Append(bound).Append("\"} ").Append(cumulative).Append('\n');
        }
        double sum = TimeSpan.FromTicks(Interlocked.Read(ref _sumTicks)).TotalSeconds;
        text.Append(name).Append("_sum ").Append(sum.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        text.Append(name).Append("_count ").Append(cumulative).Append('\n');
    }
}
