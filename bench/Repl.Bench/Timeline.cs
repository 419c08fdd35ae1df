using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Repl.Bench;

/// <summary>
/// A run in slots of 100 ms (<c>--timeline FILE</c>): per slot the deliveries received, the latest of them and how
/// many were late, the acknowledgements and the slowest, and what each thread of the server and of this program did
/// meanwhile (CPU and run-queue wait from <c>/proc/PID/task/TID/schedstat</c>, grouped by thread name). It shows when
/// in a run slow deliveries happen, and who had the core then (bench/README.md, "S1's outliers").
/// </summary>
/// <remarks>
/// Recording is a few plain adds per receive (the epoll receiver is one thread; the async receiver and the publishers
/// use interlocked adds). The threads are sampled by one thread of its own every slot, ~100 small reads a second.
/// </remarks>
internal sealed class Timeline : IDisposable
{
    /// <summary>A delivery at least this late (ms) counts as late in its slot.</summary>
    public const long LateMs = 50;

    private static readonly long SlotTicks = Stopwatch.Frequency / 10;
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly long[] _deliveries;
    private readonly long[] _late;
    private readonly long[] _maxMicros;
    private readonly long[] _acks;
    private readonly long[] _ackMaxMicros;
    private readonly Dictionary<string, long>[] _threads;
    private readonly IReadOnlyList<int> _serverPids;
    private readonly IReadOnlyList<Uri> _metrics;
    private readonly Dictionary<(int Pid, int Tid), (long Run, long Wait)> _last = [];
    private readonly Dictionary<(int Pid, int Tid), string> _names = [];
    private readonly Thread _sampler;
    private readonly List<(double At, string Mark)> _marks = [];
    private volatile bool _stopped;

    /// <param name="metrics">Servers whose <c>/metrics</c> are read every half second for the streams' counters.</param>
    public Timeline(double seconds, IReadOnlyList<int> serverPids, IReadOnlyList<Uri> metrics)
    {
        _metrics = metrics;
        int slots = (int)Math.Ceiling(seconds * 10) + 1;
        _deliveries = new long[slots];
        _late = new long[slots];
        _maxMicros = new long[slots];
        _acks = new long[slots];
        _ackMaxMicros = new long[slots];
        _threads = new Dictionary<string, long>[slots];
        _serverPids = serverPids;
        _sampler = new Thread(Sample) { IsBackground = true, Name = "bench-timeline" };
        _sampler.Start();
    }

    /// <summary>Wall-clock time of slot 0, to line the timeline up with the server's own logs and counters.</summary>
    public DateTime StartUtc { get; } = DateTime.UtcNow;

    /// <summary>Notes a phase's start (connect, warm-up, measured window, drain) at this moment.</summary>
    public void Mark(string mark)
    {
        lock (_marks) _marks.Add((Seconds(Stopwatch.GetTimestamp()), mark));
    }

    /// <summary>One receive's messages: how many, the latest of them, how many were late.</summary>
    public void Delivered(long now, long count, long maxMicros, long late)
    {
        long slot = Slot(now);
        if (slot < 0) return;
        Interlocked.Add(ref _deliveries[slot], count);
        if (late > 0) Interlocked.Add(ref _late[slot], late);
        Max(ref _maxMicros[slot], maxMicros);
    }

    /// <summary>An acknowledgement received at <paramref name="now"/> after <paramref name="micros"/>.</summary>
    public void Acked(long now, long micros)
    {
        long slot = Slot(now);
        if (slot < 0) return;
        Interlocked.Increment(ref _acks[slot]);
        Max(ref _ackMaxMicros[slot], micros);
    }

    private long Slot(long now)
    {
        long slot = (now - _start) / SlotTicks;
        return slot >= 0 && slot < _deliveries.Length ? slot : -1;
    }

    private double Seconds(long ticks) => (double)(ticks - _start) / Stopwatch.Frequency;

    private static void Max(ref long field, long value)
    {
        long seen = Volatile.Read(ref field);
        while (value > seen)
        {
            long was = Interlocked.CompareExchange(ref field, value, seen);
            if (was == seen) break;
            seen = was;
        }
    }

    /// <summary>Every slot: each thread's CPU and run-queue wait since the last slot, summed by process and thread name.</summary>
    private void Sample()
    {
        int self = Environment.ProcessId;
        long next = _start + SlotTicks;
        while (!_stopped)
        {
            long wait = next - Stopwatch.GetTimestamp();
            if (wait > 0) Thread.Sleep(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
            long slot = Slot(next) - 1;
            next += SlotTicks;
            if (slot < 0) continue;
            var groups = new Dictionary<string, long>();
            foreach (int pid in _serverPids) Read(pid, "server", groups);
            Read(self, "bench", groups);
            if (slot % 5 == 4) ReadMetrics(groups);
            _threads[slot] = groups;
        }
    }

    /// <summary>Adds each thread's run and wait (µs) since the last sample to "{who}:{name} cpu" and "{who}:{name} wait".</summary>
    private void Read(int pid, string who, Dictionary<string, long> groups)
    {
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid}/task");
        }
        catch (IOException)
        {
            return;
        }
        foreach (string task in tasks)
        {
            try
            {
                int tid = int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture);
                // schedstat: ns on the CPU, ns waiting on a run queue, timeslices.
                var fields = File.ReadAllText(task + "/schedstat").Split(' ');
                long run = long.Parse(fields[0], CultureInfo.InvariantCulture), queued = long.Parse(fields[1], CultureInfo.InvariantCulture);
                bool seen = _last.TryGetValue((pid, tid), out var last);
                _last[(pid, tid)] = (run, queued);
                if (!seen) continue;
                // A thread's name is read once: it is set when the thread starts.
                if (!_names.TryGetValue((pid, tid), out string? name)) _names[(pid, tid)] = name = $"{who}:{ThreadName(File.ReadAllText(task + "/comm"))}";
                groups[name + " cpu"] = groups.GetValueOrDefault(name + " cpu") + (run - last.Run) / 1000;
                groups[name + " wait"] = groups.GetValueOrDefault(name + " wait") + (queued - last.Wait) / 1000;
            }
            catch (Exception error) when (error is IOException or FormatException or IndexOutOfRangeException)
            {
                // The thread ended meanwhile.
            }
        }
    }

    /// <summary>The streams' counters from each server's <c>/metrics</c>, as they stand (summed over the servers).</summary>
    private void ReadMetrics(Dictionary<string, long> groups)
    {
        foreach (var url in _metrics)
        {
            try
            {
                using var response = Http.Send(new HttpRequestMessage(HttpMethod.Get, new Uri(url, "/metrics")));
                using var reader = new StreamReader(response.Content.ReadAsStream());
                while (reader.ReadLine() is { } line)
                {
                    foreach (string counter in Counters)
                    {
                        if (!line.StartsWith(counter, StringComparison.Ordinal) || line.Length <= counter.Length || line[counter.Length] is not (' ' or '{')) continue;
                        string value = line[(line.LastIndexOf(' ') + 1)..];
                        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number))
                        {
                            groups["metric:" + counter] = groups.GetValueOrDefault("metric:" + counter) + (long)number;
                        }
                    }
                }
            }
            catch (Exception error) when (error is HttpRequestException or IOException or TaskCanceledException)
            {
                // A server that does not answer in time leaves the slot without its counters.
            }
        }
    }

    private static readonly string[] Counters =
        ["repl_stream_flush_waits_total", "repl_publish_holds_total", "repl_stream_journal_reads_total", "repl_streams_behind", "repl_stream_writes_total", "repl_delivered_total"];

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(1) };

    /// <summary>A thread's name without its number (".NET TP Worker", "repl.sse.dispat"; Linux keeps 15 characters).</summary>
    private static string ThreadName(string comm) => comm.Trim().TrimEnd('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '_', '#', ' ').Replace(',', ';');

    /// <summary>Writes the timeline as CSV: one row per slot up to the last that saw anything; marks as comment lines.</summary>
    public void Write(string path)
    {
        _stopped = true;
        _sampler.Join();
        int end = _deliveries.Length;
        while (end > 0 && _deliveries[end - 1] == 0 && _acks[end - 1] == 0) end--;
        var columns = _threads.Take(end).Where(t => t is not null).SelectMany(t => t.Keys).Distinct().Order(StringComparer.Ordinal).ToArray();
        var csv = new StringBuilder();
        csv.Append(CultureInfo.InvariantCulture, $"# start {StartUtc:O}; slot 100 ms; late = delivered {LateMs} ms or more after it was sent; thread columns in µs per slot\n");
        lock (_marks)
        {
            foreach (var (at, mark) in _marks) csv.Append(CultureInfo.InvariantCulture, $"# {at:0.000} s: {mark}\n");
        }
        csv.Append("t,deliveries,late,maxMs,acks,ackMaxMs");
        foreach (string column in columns) csv.Append(',').Append(column);
        csv.Append('\n');
        for (int i = 0; i < end; i++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{i / 10.0:0.0},{_deliveries[i]},{_late[i]},{_maxMicros[i] / 1000.0:0.0},{_acks[i]},{_ackMaxMicros[i] / 1000.0:0.0}");
            foreach (string column in columns) csv.Append(',').Append(_threads[i]?.GetValueOrDefault(column) ?? 0);
            csv.Append('\n');
        }
        File.WriteAllText(path, csv.ToString());
    }

    public void Dispose()
    {
        _stopped = true;
    }
}
