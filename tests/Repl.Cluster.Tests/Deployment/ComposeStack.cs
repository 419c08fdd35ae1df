using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace Repl.Cluster.Tests.Deployment;

/// <summary>
/// docker/compose.yml running in containers on this machine, through the project's scripts: <c>scripts/compose-up.sh</c>
/// (podman, the local base image, the image, compose up, every broker's <c>/readyz</c>) and <c>scripts/compose-down.sh</c>.
/// </summary>
/// <remarks>
/// Its own compose project and ports, so that a stack someone runs with the defaults (project <c>repl</c>, 8080-8083)
/// is left alone; the compose network's subnet is fixed (nginx's address is trusted by the brokers), so the two cannot
/// run at the same time.
/// </remarks>
internal sealed class ComposeStack : IAsyncDisposable
{
    public const string Project = "repltest";
    private const int BalancerPort = 18080;
    private static readonly TimeSpan UpTimeout = TimeSpan.FromMinutes(15);

    private readonly string _root;
    private readonly ITestOutputHelper _output;

    private ComposeStack(string root, ITestOutputHelper output)
    {
        _root = root;
        _output = output;
    }

    /// <summary>nginx, in front of the brokers.</summary>
    public Uri Balancer { get; } = new($"http://127.0.0.1:{BalancerPort}");

    /// <summary>Broker <c>repl{number}</c> (1-3) on its own published port, bypassing nginx.</summary>
    public Uri Broker(int number) => new($"http://127.0.0.1:{BalancerPort + number}");

    /// <summary>Brings the stack up and waits for every broker's readiness; takes it down again if that fails.</summary>
    public static async Task<ComposeStack> UpAsync(ITestOutputHelper output)
    {
        var stack = new ComposeStack(RepositoryRoot(), output);
        var started = Stopwatch.StartNew();
        var (code, text) = await stack.RunAsync("bash", ["scripts/compose-up.sh"], UpTimeout);
        output.WriteLine($"compose-up.sh: exit {code} after {started.Elapsed.TotalSeconds:F0} s\n{text}");
        if (code != 0)
        {
            await stack.DisposeAsync();
            Assert.Fail($"scripts/compose-up.sh failed (exit {code}):\n{text}");
        }
        return stack;
    }

    /// <summary>SIGKILLs a service's container (<c>podman kill</c>); a killed container is not restarted.</summary>
    public async Task KillAsync(string service)
    {
        var (code, text) = await RunAsync("podman", ["kill", $"{Project}_{service}_1"], TimeSpan.FromSeconds(30));
        Assert.True(code == 0, $"podman kill {service} failed: {text}");
    }

    public async ValueTask DisposeAsync()
    {
        var (code, text) = await RunAsync("bash", ["scripts/compose-down.sh", "--volumes"], TimeSpan.FromMinutes(2));
        _output.WriteLine($"compose-down.sh: exit {code}\n{text}");
    }

    private async Task<(int Code, string Output)> RunAsync(string file, string[] args, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = _root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["REPL_COMPOSE_PROJECT"] = Project;
        start.Environment["REPL_PORT_LB"] = BalancerPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        for (int number = 1; number <= 3; number++)
        {
            start.Environment[$"REPL_PORT_REPL{number}"] = Broker(number).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        using var process = Process.Start(start)!;
        var text = new StringBuilder();
        process.OutputDataReceived += (_, line) => { if (line.Data is not null) lock (text) text.AppendLine(line.Data); };
        process.ErrorDataReceived += (_, line) => { if (line.Data is not null) lock (text) text.AppendLine(line.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            lock (text) text.AppendLine($"(stopped after {timeout})");
            return (-1, text.ToString());
        }
        lock (text) return (process.ExitCode, text.ToString());
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "scripts", "compose-up.sh"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException("scripts/compose-up.sh not found above " + AppContext.BaseDirectory);
    }
}
