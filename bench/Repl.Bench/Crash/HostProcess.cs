using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Repl.Bench.Crash;

/// <summary>
/// A standalone <c>Repl.Host</c> the crash run starts, kills with SIGKILL and starts again on the same port and data
/// directory. The host is an executable or a <c>.dll</c> (run with <c>dotnet</c>); optionally pinned with <c>taskset</c>.
/// </summary>
internal sealed class HostProcess(string host, string dataDir, int port, string? cpu)
{
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private Process? _process;

    public Uri Url { get; } = new($"http://127.0.0.1:{port}");

    public string DataDir => dataDir;

    public int? Pid => _process is { HasExited: false } process ? process.Id : null;

    /// <summary>The host's last output lines, for failure messages.</summary>
    public string OutputTail => string.Join('\n', _output);

    /// <summary>What the current (or last) host wrote to stderr (its logs go to stdout).</summary>
    public IReadOnlyList<string> ErrorLines => [.. _errors];

    /// <summary>Starts the host and waits until <c>/readyz</c> (or only <c>/health</c>) answers 200; throws when it exits or does not answer in time.</summary>
    /// <param name="ready">False: up is enough (<c>/health</c>); a node that cannot commit (a full disk) is up but not ready.</param>
    public async Task StartAsync(TimeSpan timeout, bool ready = true)
    {
        Launch();
        var deadline = Stopwatch.StartNew();
        using var probe = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(5) };
        while (deadline.Elapsed < timeout)
        {
            if (_process!.HasExited) throw new InvalidOperationException($"the host exited with {_process.ExitCode} while starting:\n{OutputTail}");
            try
            {
                using var answer = await probe.GetAsync(ready ? "/readyz" : "/health");
                if (answer.IsSuccessStatusCode) return;
            }
            catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"the host was not ready within {timeout.TotalSeconds:0} s:\n{OutputTail}");
    }

    /// <summary>Starts the host and waits for it to exit by itself; its exit code, or null when it still runs after <paramref name="timeout"/> (then killed).</summary>
    public async Task<int?> RunToExitAsync(TimeSpan timeout)
    {
        Launch();
        using var wait = new CancellationTokenSource(timeout);
        try
        {
            await _process!.WaitForExitAsync(wait.Token);
            _process.WaitForExit(); // drains the redirected output
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            Kill();
            return null;
        }
    }

    /// <summary>
    /// SIGTERM, as a supervisor stops a service: the host drains and exits by itself. Returns its exit code, or null
    /// when it still runs after <paramref name="timeout"/> (then killed).
    /// </summary>
    public async Task<int?> TerminateAsync(TimeSpan timeout)
    {
        if (_process is null) return null;
        // taskset execs the host, so the pid is the host's own (see Launch).
        if (SendSignal(_process.Id, 15) != 0) throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed");
        using var wait = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(wait.Token);
            _process.WaitForExit(); // drains the redirected output
            int code = _process.ExitCode;
            _process.Dispose();
            _process = null;
            return code;
        }
        catch (OperationCanceledException)
        {
            Kill();
            return null;
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    /// <summary>SIGKILL (what <see cref="Process.Kill()"/> sends on Linux): no shutdown code runs.</summary>
    public void Kill()
    {
        if (_process is null) return;
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
        }
        _process.WaitForExit();
        _process.Dispose();
        _process = null;
    }

    private void Launch()
    {
        if (Pid is not null) throw new InvalidOperationException("the host is already running");
        _output.Clear();
        _errors.Clear();
        List<string> command = [];
        if (cpu is not null) command.AddRange(["taskset", "-c", cpu]);
        if (host.EndsWith(".dll", StringComparison.Ordinal)) command.Add("dotnet");
        // Retention off: the run compares the journal with everything acknowledged, and a topic past the default's
        // 100,000 messages would lose its oldest to it (every 30 s: a long last stretch would see it).
        command.AddRange([host, "--urls", Url.ToString().TrimEnd('/'), "--data-dir", dataDir, "--Logging:LogLevel:Default", "Warning",
            "--Journal:MaxMessagesPerTopic", "0"]);
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in command.Skip(1)) start.ArgumentList.Add(arg);
        // taskset execs the host: the pid is the host's, and SIGKILL reaches it.
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {host}");
        _process.OutputDataReceived += (_, line) => Keep(line.Data);
        _process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is not null) _errors.Enqueue(line.Data);
            Keep(line.Data);
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        _output.Enqueue(line);
        while (_output.Count > 100) _output.TryDequeue(out _);
    }

    /// <summary>A loopback port nobody listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
