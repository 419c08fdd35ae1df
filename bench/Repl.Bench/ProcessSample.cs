using System.Globalization;

namespace Repl.Bench;

/// <summary>
/// CPU time and resident memory of a process, or summed over several (a cluster's nodes), read from
/// <c>/proc/PID/stat</c> and <c>/proc/PID/status</c>.
/// </summary>
internal readonly record struct ProcessSample(double CpuSeconds, long RssKb)
{
    // USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)).
    private const double ClockTicks = 100;

    /// <summary>The sum over <paramref name="pids"/>; null when there are none, or one of them cannot be read
    /// (a sum missing a process would read as a drop).</summary>
    public static ProcessSample? Read(IReadOnlyList<int> pids)
    {
        if (pids.Count == 0) return null;
        double cpu = 0;
        long rss = 0;
        foreach (int pid in pids)
        {
            if (Read(pid) is not { } sample) return null;
            cpu += sample.CpuSeconds;
            rss += sample.RssKb;
        }
        return new ProcessSample(cpu, rss);
    }

    private static ProcessSample? Read(int id)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{id}/stat");
            // Fields after "(comm)": state is field 3, utime 14, stime 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            double cpu = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / ClockTicks;
            long rss = 0;
            foreach (var line in File.ReadLines($"/proc/{id}/status"))
            {
                if (!line.StartsWith("VmRSS:", StringComparison.Ordinal)) continue;
                rss = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                break;
            }
            return new ProcessSample(cpu, rss);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
