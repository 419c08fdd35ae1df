using System.Globalization;

namespace Repl.Bench.Soak;

/// <summary>One sample of a process's resident memory, open file descriptors and threads (<c>/proc/PID/status</c>, <c>/proc/PID/fd</c>).</summary>
internal readonly record struct ResourceSample(double Seconds, long RssKb, int Fds, int Threads)
{
    /// <summary>Null when the process is gone or cannot be read.</summary>
    public static ResourceSample? Read(int pid, double seconds)
    {
        try
        {
            long rss = 0;
            int threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                else if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = int.Parse(line.AsSpan(8).Trim(), CultureInfo.InvariantCulture);
            }
            int fds = Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
            return new ResourceSample(seconds, rss, fds, threads);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}
