using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Repl.Testing;

/// <summary>A Repl node in its own process, for crash tests (kill -9). Uses the Repl.Host build next to the tests.</summary>
public sealed class ReplProcess : IAsyncDisposable
{
    private Process? _process;

    private ReplProcess(string dataDir, int port, string[] settings)
    {
        DataDir = dataDir;
        Port = port;
        Settings = settings;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public string DataDir { get; }

    public int Port { get; }

    public string[] Settings { get; }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public static async Task<ReplProcess> StartAsync(params string[] settings)
    {
        var node = new ReplProcess(TempDir.Create(), FreePort(), settings);
        await node.RestartAsync();
        return node;
    }

    /// <summary>Starts the process (again) on the same port and data folder; returns once it is ready.</summary>
    public async Task RestartAsync()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Repl.Host.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[dll, "--urls", BaseAddress.ToString().TrimEnd('/'), "--data-dir", DataDir, "--Node:Id", "crash-test",
            "--Logging:LogLevel:Default", "Warning", .. Settings])
        {
            start.ArgumentList.Add(arg);
        }
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"Repl.Host exited with {_process.ExitCode}");
            try
            {
                using var ready = await Client.GetAsync("/readyz");
                if (ready.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("Repl.Host did not become ready in 30 s");
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        _process?.Kill(entireProcessTree: true);
        _process?.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        Client.Dispose();
        await Task.Yield();
        TempDir.Delete(DataDir);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
