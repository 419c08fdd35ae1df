using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Samples.Tests.Infrastructure;

/// <summary>A Repl node in its own process on a free loopback port with a temp journal (the pattern of Repl.Host.Tests).</summary>
public sealed class ReplProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dataDir;

    private ReplProcess(Process process, string dataDir, Uri baseAddress)
    {
        _process = process;
        _dataDir = dataDir;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public static async Task<ReplProcess> StartAsync()
    {
        string dataDir = Path.Combine(Path.GetTempPath(), "repl-samples-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        var baseAddress = new Uri($"http://127.0.0.1:{FreePort()}");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[Path.Combine(AppContext.BaseDirectory, "Repl.Host.dll"), "--urls", baseAddress.ToString().TrimEnd('/'),
            "--data-dir", dataDir, "--Node:Id", "samples-test", "--Logging:LogLevel:Default", "Warning"])
        {
            start.ArgumentList.Add(arg);
        }
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var node = new ReplProcess(process, dataDir, baseAddress);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) throw new InvalidOperationException($"Repl.Host exited with {process.ExitCode}");
            try
            {
                using var ready = await node.Client.GetAsync("/readyz");
                if (ready.IsSuccessStatusCode) return node;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        await node.DisposeAsync();
        throw new TimeoutException("Repl.Host did not become ready in 30 s");
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        Client.Dispose();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
