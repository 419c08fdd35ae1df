using System.Globalization;

namespace Repl.Bench.Crash;

/// <summary>Command-line options of <c>Repl.Bench crash</c>.</summary>
internal sealed class CrashOptions
{
    public string Host { get; private set; } = "";
    public int Cycles { get; private set; } = 20;
    /// <summary>Runs of the kill -9 phase: off with <c>--no-kill</c> (to run the SIGTERM phase alone).</summary>
    public bool Kill { get; private set; } = true;
    /// <summary>SIGTERM / restart cycles (0: no SIGTERM phase).</summary>
    public int SigtermCycles { get; private set; }
    public int Publishers { get; private set; } = 6;
    public int Subscribers { get; private set; } = 4;
    /// <summary>How long the host runs under load before each kill: a random time in [min, max] seconds.</summary>
    public double UpMinSeconds { get; private set; } = 1;
    public double UpMaxSeconds { get; private set; } = 4;
    public string? ServerCpu { get; private set; }
    public string? DataDir { get; private set; }
    public bool FullDisk { get; private set; } = true;
    public bool Damaged { get; private set; } = true;
    public bool JsonOnly { get; private set; }

    public const string Usage = """
        Repl.Bench crash — kill -9 / restart cycles of a standalone Repl.Host under publishing and subscribing,
        SIGTERM / restart cycles (--sigterm-cycles), a full data disk, and damaged journals at start; checks
        0 acknowledged lost, 0 duplicated, 0 phantom.
        usage: Repl.Bench crash --host PATH [options]      exit 0 when every check holds, 1 on any violation, 2 on bad usage
          --host PATH          Repl.Host executable, or Repl.Host.dll (run with dotnet)
          --cycles N           kill -9 / restart cycles (20)
          --no-kill            skip the kill -9 phase
          --sigterm-cycles N   SIGTERM / restart cycles: each exit must be 0, every open stream must end with
                               event: unavailable, /metrics is scraped each cycle; a second host started on the
                               port must exit 4 with one line (0: no SIGTERM phase, the default)
          --publishers N       closed-loop publishers; every other one uses Idempotency-Key retries (6)
          --subscribers N      SSE subscribers resuming with Last-Event-ID (4)
          --up MIN,MAX         seconds under load before each kill, drawn at random (1,4)
          --server-cpu LIST    pin the host with taskset -c LIST
          --data-dir DIR       the kill cycles' data directory (default: a new temp dir, deleted after)
          --no-full-disk       skip the full-disk phase (it mounts a small tmpfs: needs root)
          --no-damaged         skip the damaged-journal phase
          --json               only the JSON line on stdout
        """;

    public static CrashOptions Parse(string[] args)
    {
        var options = new CrashOptions();
        for (int i = 1; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Count() => int.Parse(Next(), NumberStyles.None, CultureInfo.InvariantCulture) is var n and > 0 ? n : throw new ArgumentException($"{args[i]} must be ≥ 1");
            switch (args[i])
            {
                case "--host": options.Host = Next(); break;
                case "--cycles": options.Cycles = Count(); break;
                case "--no-kill": options.Kill = false; break;
                case "--sigterm-cycles": options.SigtermCycles = Count(); break;
                case "--publishers": options.Publishers = Count(); break;
                case "--subscribers": options.Subscribers = Count(); break;
                case "--up":
                    var parts = Next().Split(',');
                    options.UpMinSeconds = double.Parse(parts[0], CultureInfo.InvariantCulture);
                    options.UpMaxSeconds = double.Parse(parts[^1], CultureInfo.InvariantCulture);
                    if (options.UpMinSeconds <= 0 || options.UpMaxSeconds < options.UpMinSeconds) throw new ArgumentException("--up wants 0 < MIN ≤ MAX");
                    break;
                case "--server-cpu": options.ServerCpu = Next(); break;
                case "--data-dir": options.DataDir = Next(); break;
                case "--no-full-disk": options.FullDisk = false; break;
                case "--no-damaged": options.Damaged = false; break;
                case "--json": options.JsonOnly = true; break;
                case "-h" or "--help": throw new BenchOptions.HelpRequested();
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (options.Host.Length == 0) throw new ArgumentException("--host is required");
        if (!File.Exists(options.Host)) throw new ArgumentException($"--host: no file {options.Host}");
        return options;
    }
}
