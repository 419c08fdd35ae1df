using System.Globalization;
using Voting.LoadTest;

// dotnet run --project samples/Voting/Voting.LoadTest -- [--node URL] [--voters N] [--doubles 0.01] [--invalid 0.005]
//     [--concurrency N] [--connections N] [--votes TOPIC] [--results TOPIC] [--options A,B,C] [--timeout SECONDS] [--seed N]
//     [--ballot-hook true]
var options = new LoadTestOptions();
try
{
    for (int i = 0; i < args.Length; i += 2)
    {
        string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
        options = args[i] switch
        {
            "--node" => options with { Node = value },
            "--voters" => options with { Voters = int.Parse(value, CultureInfo.InvariantCulture) },
            "--doubles" => options with { Doubles = double.Parse(value, CultureInfo.InvariantCulture) },
            "--invalid" => options with { Invalid = double.Parse(value, CultureInfo.InvariantCulture) },
            "--concurrency" => options with { Concurrency = int.Parse(value, CultureInfo.InvariantCulture) },
            "--connections" => options with { Connections = int.Parse(value, CultureInfo.InvariantCulture) },
            "--votes" => options with { Votes = value },
            "--results" => options with { Results = value },
            "--options" => options with { Options = value },
            "--timeout" => options with { Timeout = TimeSpan.FromSeconds(double.Parse(value, CultureInfo.InvariantCulture)) },
            "--seed" => options with { Seed = int.Parse(value, CultureInfo.InvariantCulture) },
            "--ballot-hook" => options with { BallotHook = bool.Parse(value) },
            _ => throw new ArgumentException($"unknown option {args[i]}"),
        };
    }
}
catch (Exception exception) when (exception is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine($"error: {exception.Message}");
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
try
{
    var report = await new LoadTest(options, Console.Out).RunAsync(cancel.Token);
    Console.WriteLine($"final: {string.Join(", ", report.Counts.Select(count => $"{count.Key}={count.Value:N0}"))}; counted {report.Counted:N0}, rejected {report.Rejected:N0}");
    Console.WriteLine($"{report.Ballots:N0} ballots from {report.Voters:N0} voters: acknowledged in {report.CastSeconds:0.00} s, final result after {report.TotalSeconds:0.00} s");
    if (report.Ok)
    {
        Console.WriteLine("OK: every valid vote counted exactly once, every double and invalid ballot rejected, final counts match");
        return 0;
    }
    Console.Error.WriteLine("MISMATCH:");
    foreach (var problem in report.Problems) Console.Error.WriteLine($"  {problem}");
    return 1;
}
catch (OperationCanceledException)
{
    return 130;
}
catch (Exception exception) when (exception is HttpRequestException or InvalidOperationException or TimeoutException)
{
    Console.Error.WriteLine($"error: {exception.Message}");
    return 1;
}
