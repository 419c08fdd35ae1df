namespace Repl.Cli.Tests.Infrastructure;

/// <summary>One run of the CLI's entry point in this process, with its output captured.</summary>
public sealed record CliResult(int ExitCode, string Out, string Err)
{
    public string[] Lines => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

public static class CliRunner
{
    public static async Task<CliResult> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        // No environment: REPL_URL or NO_COLOR on the test machine must not change what is tested.
        int code = await new ReplCli(stdout, stderr, _ => null).RunAsync(args, handleSignals: false, cancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
        return new CliResult(code, stdout.ToString(), stderr.ToString());
    }
}
