using System.Globalization;

namespace Repl.Bench;

/// <summary>Command-line options of one load run.</summary>
internal sealed class BenchOptions
{
    /// <summary>The first of <see cref="Urls"/>: where the topic is created.</summary>
    public Uri Url => Urls[0];
    /// <summary>Server base URLs (cluster nodes); subscribers and publishers are spread over them round-robin.</summary>
    public IReadOnlyList<Uri> Urls { get; private set; } = [new("http://127.0.0.1:9000")];
    /// <summary>Server processes whose CPU and RSS are summed (the cluster's nodes).</summary>
    public IReadOnlyList<int> ServerPids { get; private set; } = [];
    /// <summary>Further processes reported apart from the server (a cluster's etcd members): CPU and RSS summed.</summary>
    public IReadOnlyList<int> EtcdPids { get; private set; } = [];
    public int Subscribers { get; private set; } = 100;
    public int Publishers { get; private set; } = 32;
    /// <summary>Total publishes per second over all publishers; 0 = as fast as acknowledgements come back.</summary>
    public double Rate { get; private set; }
    public double DurationSeconds { get; private set; } = 10;
    /// <summary>Seconds of publishing before the measured phase (JIT tiering, pools, socket buffers); not counted.</summary>
    public double WarmupSeconds { get; private set; }
    public string Topic { get; private set; } = "bench";
    public int NonReaders { get; private set; }
    /// <summary>Connections that read 4 KB every 20 ms (~200 KB/s): they fall behind their topic's ring and catch up from the journal.</summary>
    public int SlowReaders { get; private set; }
    public int ValueBytes { get; private set; } = 60;
    public bool JsonOnly { get; private set; }
    public string Scenario { get; private set; } = "adhoc";
    /// <summary>Which server this ran against (bench/run.sh's kinds: repl, node, floor), for the report; rows are grouped by it.</summary>
    public string Label { get; private set; } = "repl";
    /// <summary>Most time to wait after publishing stops for the last deliveries.</summary>
    public double DrainSeconds { get; private set; } = 15;
    public int ConnectConcurrency { get; private set; } = 200;
    /// <summary>Per-connection receive buffer; 0 picks one from the subscriber count.</summary>
    public int ReceiveBufferBytes { get; private set; }
    /// <summary>How subscribers read: <c>epoll</c> (one thread, plain system calls; Linux x64) or <c>async</c> (.NET sockets).</summary>
    public string Receiver { get; private set; } = EpollReceiver.IsSupported ? "epoll" : "async";
    /// <summary>Publish as a careful client: an idempotency key per message, sent again after a 503 or no answer until it is 201; deliveries checked id by id.</summary>
    public bool Retry { get; private set; }
    /// <summary>A process to kill -9 during the measured window (a cluster node: scenario C3).</summary>
    public int? KillPid { get; private set; }
    /// <summary>Seconds into the measured window at which <see cref="KillPid"/> is killed.</summary>
    public double KillAtSeconds { get; private set; }
    /// <summary>The epoll receiver thread's nice value: -10 (before the publishers on the load core), 0 = as the process.</summary>
    public int ReceiverNice { get; private set; } = -10;
    /// <summary>Where to write the run's timeline (<see cref="Timeline"/>), if anywhere.</summary>
    public string? TimelinePath { get; private set; }

    public const string Usage = """
        Repl.Bench — SSE fan-out load against a Repl (or REPL-compatible) server.
        usage: Repl.Bench [options]            one run; prints a table (stderr) and one JSON line (stdout)
               Repl.Bench report DIR [--out FILE] [--quick]
                                               medians of DIR/*.json per server and scenario, checked against targets
          --url URL[,URL...]      server base URL(s) (http://127.0.0.1:9000); several = cluster nodes, subscribers
                                  and publishers spread over them round-robin, topic created on the first
          --server-pid PID[,PID]  read the server's CPU and RSS from /proc/PID; several are summed
          --etcd-pid PID[,PID]    etcd members: CPU and RSS summed, reported apart (server.etcd)
          --subscribers N         SSE connections that read (100)
          --non-readers N         SSE connections that never read (0)
          --publishers P          publisher connections, HTTP/1.1 keep-alive (32)
          --rate R                total publishes/s, 0 = max (0)
          --duration S            seconds of publishing (10)
          --warmup S              seconds of publishing before, not counted (0)
          --topic NAME            topic, created if missing (bench)
          --value-bytes N         message value size, timestamp + padding (60)
          --drain S               most seconds to wait for deliveries after publishing (15)
          --connect-concurrency N connects in flight at once (200)
          --recv-buffer BYTES     receive buffer per subscriber (auto)
          --receiver epoll|async  subscribers read by one epoll thread (Linux x64 default) or .NET async sockets
          --retry                 each publish carries its own Idempotency-Key and is sent again (same key, same
                                  bytes) after a 503, a broken connection or no answer until it is 201; lost and
                                  duplicated are then checked id by id against the ids the 201s named; exit 1 on any
          --kill-pid PID          kill -9 this process during the measured window (C3: the sequencer's node)
          --kill-at S             when, in seconds after the measured window starts (with --kill-pid)
          --receiver-nice N       nice value of the epoll receiver's thread (-10: it runs before the publishers on
                                  the load core; needs root, else a warning; 0: as the rest of the program)
          --timeline FILE         write the run in 100 ms slots as CSV: deliveries, late ones (>= 50 ms), the
                                  latest, acks, and each server and load thread's CPU and run-queue wait
          --scenario NAME         scenario name in the report (S1...S6, C1...C3)
          --label NAME            server name in the report (repl)
          --json                  print only the JSON line
        """;

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            int NextInt() => int.Parse(Next(), CultureInfo.InvariantCulture);
            double NextDouble() => double.Parse(Next(), CultureInfo.InvariantCulture);
            switch (arg)
            {
                case "--url": options.Urls = [.. List(Next()).Select(url => new Uri(url))]; break;
                case "--server-pid": options.ServerPids = [.. List(Next()).Select(pid => int.Parse(pid, CultureInfo.InvariantCulture))]; break;
                case "--etcd-pid": options.EtcdPids = [.. List(Next()).Select(pid => int.Parse(pid, CultureInfo.InvariantCulture))]; break;
                case "--subscribers": options.Subscribers = NextInt(); break;
                case "--non-readers": options.NonReaders = NextInt(); break;
                case "--slow-readers": options.SlowReaders = NextInt(); break;
                case "--publishers": options.Publishers = NextInt(); break;
                case "--rate": options.Rate = NextDouble(); break;
                case "--duration": options.DurationSeconds = NextDouble(); break;
                case "--warmup": options.WarmupSeconds = NextDouble(); break;
                case "--topic": options.Topic = Next(); break;
                case "--value-bytes": options.ValueBytes = NextInt(); break;
                case "--drain": options.DrainSeconds = NextDouble(); break;
                case "--connect-concurrency": options.ConnectConcurrency = NextInt(); break;
                case "--recv-buffer": options.ReceiveBufferBytes = NextInt(); break;
                case "--receiver": options.Receiver = Next(); break;
                case "--retry": options.Retry = true; break;
                case "--kill-pid": options.KillPid = NextInt(); break;
                case "--kill-at": options.KillAtSeconds = NextDouble(); break;
                case "--timeline": options.TimelinePath = Next(); break;
                case "--receiver-nice": options.ReceiverNice = NextInt(); break;
                case "--scenario": options.Scenario = Next(); break;
                case "--label": options.Label = Next(); break;
                case "--json": options.JsonOnly = true; break;
                case "-h" or "--help": throw new HelpRequested();
                default: throw new ArgumentException($"unknown option {arg}");
            }
        }
        if (options.Subscribers < 0 || options.NonReaders < 0 || options.SlowReaders < 0 || options.Publishers < 0) throw new ArgumentException("counts must be ≥ 0");
        if (options.ValueBytes < 24) throw new ArgumentException("--value-bytes must be ≥ 24 (the timestamp needs 20)");
        if (options.Receiver is not ("epoll" or "async")) throw new ArgumentException("--receiver is epoll or async");
        if (options.Receiver == "epoll" && !EpollReceiver.IsSupported) throw new ArgumentException("--receiver epoll needs Linux on x64; use --receiver async");
        if (options.KillPid is not null && (options.KillAtSeconds <= 0 || options.KillAtSeconds >= options.DurationSeconds))
            throw new ArgumentException("--kill-pid needs --kill-at S within the measured window (0 < S < --duration)");
        if (options.Urls.Count == 0) throw new ArgumentException("--url needs at least one URL");
        if (options.Urls.Any(url => url.Scheme != "http")) throw new ArgumentException("only http:// URLs");
        return options;
    }

    private static string[] List(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    internal sealed class HelpRequested : Exception;

    /// <summary>
    /// Parses a command's options with <paramref name="parse"/> and runs it: exit code 0 after printing
    /// <paramref name="usage"/> for <c>--help</c>, 2 with the error and the usage for options that do not parse.
    /// </summary>
    internal static async Task<int> RunAsync<T>(string[] args, Func<string[], T> parse, string usage, Func<T, Task<int>> run)
    {
        T options;
        try
        {
            options = parse(args);
        }
        catch (HelpRequested)
        {
            Console.WriteLine(usage);
            return 0;
        }
        catch (Exception error) when (error is ArgumentException or FormatException)
        {
            Console.Error.WriteLine(error.Message);
            Console.Error.WriteLine(usage);
            return 2;
        }
        return await run(options);
    }
}
