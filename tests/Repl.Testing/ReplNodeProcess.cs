using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Repl.Testing;

/// <summary>
/// A Repl node in its own process (<c>dotnet Repl.Host.dll</c> from the test's bin folder): a cluster node when
/// given etcd endpoints, standalone otherwise. Keeps its port and data folder across <see cref="Kill"/> and
/// <see cref="RestartAsync"/>.
/// </summary>
public sealed class ReplNodeProcess : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private Process? _process;

    private ReplNodeProcess(string id, string? etcd, string dataDir, int port, string[] settings)
    {
        Id = id;
        Etcd = etcd;
        DataDir = dataDir;
        Settings = settings;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public string Id { get; }

    public string? Etcd { get; }

    public string DataDir { get; }

    public string[] Settings { get; }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The node's last log lines, for failure messages.</summary>
    public string OutputTail => string.Join('\n', _output);

    /// <summary>Starts a node and waits until <c>/readyz</c> answers 200.</summary>
    /// <param name="etcd">Comma-separated etcd client URLs; null for a standalone node.</param>
    public static async Task<ReplNodeProcess> StartAsync(string id, string? etcd, params string[] settings)
    {
        var node = new ReplNodeProcess(id, etcd, TempDir.Create(), FreePort(), settings);
        try
        {
            await node.RestartAsync();
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
        return node;
    }

    /// <summary>Starts the process (again) on the same port and data folder; returns once it is ready.</summary>
    public async Task RestartAsync(TimeSpan? timeout = null)
    {
        if (IsRunning) throw new InvalidOperationException($"node {Id} is already running");
        var dll = Path.Combine(AppContext.BaseDirectory, "Repl.Host.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        string url = BaseAddress.ToString().TrimEnd('/');
        List<string> args = [dll, "--urls", url, "--data-dir", DataDir, "--node-id", Id, "--Logging:LogLevel:Default", "Warning"];
        if (Etcd is not null) args.AddRange(["--etcd", Etcd, "--advertise-url", url]);
        foreach (var arg in args.Concat(Settings)) start.ArgumentList.Add(arg);
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, line) => Keep(line.Data);
        _process.ErrorDataReceived += (_, line) => Keep(line.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitReadyAsync(timeout ?? TimeSpan.FromSeconds(60));
    }

    /// <summary>Waits until <c>/readyz</c> answers 200.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var probe = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        while (DateTime.UtcNow < deadline)
        {
            if (_process is { HasExited: true }) throw new InvalidOperationException($"node {Id} exited with {_process.ExitCode}:\n{OutputTail}");
            try
            {
                using var ready = await probe.GetAsync("/readyz");
                if (ready.IsSuccessStatusCode) return;
            }
            catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"node {Id} was not ready within {timeout.TotalSeconds:0} s:\n{OutputTail}");
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        if (_process is null) return;
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        _process.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        Client.Dispose();
        await Task.Yield();
        TempDir.Delete(DataDir);
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        _output.Enqueue(line);
        while (_output.Count > 200) _output.TryDequeue(out _);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
