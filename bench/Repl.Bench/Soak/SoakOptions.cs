using System.Globalization;

namespace Repl.Bench.Soak;

/// <summary>Command-line options of <c>Repl.Bench soak</c>.</summary>
internal sealed class SoakOptions
{
    public Uri Url { get; private set; } = new("http://127.0.0.1:9000");
    public int ServerPid { get; private set; }
    public double DurationSeconds { get; private set; } = 1800;
    public int Churners { get; private set; } = 300;
    public int Publishers { get; private set; } = 4;
    public double Rate { get; private set; } = 100;
    public double SampleSeconds { get; private set; } = 5;
    public string Csv { get; private set; } = "soak.csv";
    public string? Svg { get; private set; }
    /// <summary>Flat: the last third's median is at most the middle third's plus this share (and a small floor per figure).</summary>
    public double Tolerance { get; private set; } = 0.10;

    public const string Usage = """
        Repl.Bench soak — subscriber churn plus steady publishing against a running server; samples its RSS, open file
        descriptors and threads into a CSV (and an SVG plot) and says whether they stay flat.
        usage: Repl.Bench soak --server-pid PID [options]   exit 0 when flat, 1 when something grows, 2 on bad usage
          --url URL            server (http://127.0.0.1:9000)
          --server-pid PID     the server process, read from /proc
          --duration S         seconds (1800)
          --churners N         concurrent subscribers, each connecting, reading a little (0.2–4 s), disconnecting, again (300)
          --publishers N       publishers, paced to --rate in total (4)
          --rate R             publishes per second in total (100)
          --sample S           seconds between samples (5)
          --csv PATH           samples (soak.csv)
          --svg PATH           plot of the samples
          --tolerance F        allowed growth of the last third's median over the middle third's (0.10)
        """;

    public static SoakOptions Parse(string[] args)
    {
        var options = new SoakOptions();
        for (int i = 1; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            double Positive() => double.Parse(Next(), CultureInfo.InvariantCulture) is var v and > 0 ? v : throw new ArgumentException($"{args[i]} must be > 0");
            switch (args[i])
            {
                case "--url": options.Url = new Uri(Next()); break;
                case "--server-pid": options.ServerPid = (int)Positive(); break;
                case "--duration": options.DurationSeconds = Positive(); break;
                case "--churners": options.Churners = (int)Positive(); break;
                case "--publishers": options.Publishers = (int)Positive(); break;
                case "--rate": options.Rate = Positive(); break;
                case "--sample": options.SampleSeconds = Positive(); break;
                case "--csv": options.Csv = Next(); break;
                case "--svg": options.Svg = Next(); break;
                case "--tolerance": options.Tolerance = Positive(); break;
                case "-h" or "--help": throw new BenchOptions.HelpRequested();
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (options.ServerPid == 0) throw new ArgumentException("--server-pid is required");
        if (!Directory.Exists($"/proc/{options.ServerPid}")) throw new ArgumentException($"--server-pid: no process {options.ServerPid}");
        return options;
    }
}
