using System.Diagnostics;
using Repl.Cli.Tests.Infrastructure;

namespace Repl.Cli.Tests.Commands;

/// <summary>Help names the command as it is installed (<c>repl</c>), whatever file runs it.</summary>
public sealed class HelpTests
{
    [Fact]
    public async Task Help_NamesTheCommandRepl()
    {
        var result = await CliRunner.RunAsync(["--help"]);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("repl [command] [options]", result.Out);
        Assert.DoesNotContain("Repl.Cli", result.Out);
    }

    [Fact]
    public async Task SubcommandHelp_NamesTheCommandRepl()
    {
        var result = await CliRunner.RunAsync(["tail", "--help"]);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("repl tail <topic>", result.Out);
    }

    [Fact]
    public async Task Help_OfTheBuiltProgram_NamesTheCommandRepl()
    {
        // The way the tool's shim runs it: `dotnet Repl.Cli.dll`, a file named otherwise than the command.
        string program = Path.Combine(AppContext.BaseDirectory, "Repl.Cli.dll");
        var start = new ProcessStartInfo("dotnet", [program, "--help"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, process.ExitCode);
        Assert.Contains("repl [command] [options]", output);
    }
}
