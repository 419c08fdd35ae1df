using System.Globalization;

namespace Repl.Bench;

/// <summary>
/// Busy and total jiffies of every CPU from <c>/proc/stat</c>: with the server's own CPU time, tells how much
/// of the server's core other processes took during a run (this machine is shared, so runs are noisy).
/// </summary>
internal sealed class CpuSample
{
    private readonly Dictionary<int, (long Busy, long Total)> _cpus = [];

    public static CpuSample Read()
    {
        var sample = new CpuSample();
        try
        {
            foreach (var line in File.ReadLines("/proc/stat"))
            {
                if (!line.StartsWith("cpu", StringComparison.Ordinal) || line.Length < 4 || !char.IsDigit(line[3])) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                int id = int.Parse(parts[0].AsSpan(3), CultureInfo.InvariantCulture);
                var values = parts.Skip(1).Take(8).Select(p => long.Parse(p, CultureInfo.InvariantCulture)).ToArray();
                long idle = values[3] + values[4]; // idle + iowait
                long total = values.Sum();
                sample._cpus[id] = (total - idle, total);
            }
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or FormatException)
        {
        }
        return sample;
    }

    /// <summary>Per CPU: busy share (0–100) between two samples.</summary>
    public static SortedDictionary<int, double> BusyPercent(CpuSample start, CpuSample end)
    {
        var busy = new SortedDictionary<int, double>();
        foreach (var (id, (b1, t1)) in end._cpus)
        {
            if (!start._cpus.TryGetValue(id, out var s) || t1 <= s.Total) continue;
            busy[id] = Math.Round(100.0 * (b1 - s.Busy) / (t1 - s.Total), 1);
        }
        return busy;
    }

    /// <summary>The CPU the processes may run on, when every one is pinned to exactly that one (taskset -c N); else null.</summary>
    public static int? PinnedCpu(IReadOnlyList<int> pids)
    {
        var cpus = pids.Select(PinnedCpu).Distinct().ToArray();
        return cpus is [{ } cpu] ? cpu : null;
    }

    private static int? PinnedCpu(int id)
    {
        try
        {
            var line = File.ReadLines($"/proc/{id}/status").FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
            var value = line?["Cpus_allowed_list:".Length..].Trim();
            return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int cpu) ? cpu : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static double LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (Exception error) when (error is IOException or FormatException)
        {
            return double.NaN;
        }
    }
}
