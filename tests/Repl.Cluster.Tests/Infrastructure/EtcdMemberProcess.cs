using System.Collections.Concurrent;
using System.Diagnostics;

namespace Repl.Cluster.Tests.Infrastructure;

/// <summary>One etcd member of an <see cref="EtcdCluster"/>: its ports, data directory and (when running) process.</summary>
public sealed class EtcdMemberProcess
{
    // etcd 3.4 logs this once the member has joined the cluster (published itself
    // through Raft, so a leader exists) and its client listener is serving.
    private const string ReadyMarker = "serving client traffic";
    private const int LogLines = 200;

    private readonly string _executable;
    private readonly ConcurrentQueue<string> _log = new();
    private Process? _process;
    private TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal EtcdMemberProcess(string executable, string name, string dataDir, int clientPort, int peerPort)
    {
        _executable = executable;
        Name = name;
        DataDir = dataDir;
        ClientUrl = new Uri($"http://127.0.0.1:{clientPort}");
        PeerUrl = new Uri($"http://127.0.0.1:{peerPort}");
    }

    /// <summary>The member name (n0, n1, ...).</summary>
    public string Name { get; }

    /// <summary>The member's data directory; kept across kill and restart.</summary>
    public string DataDir { get; }

    /// <summary>The client URL (gRPC, and the HTTP health endpoint the readiness wait uses).</summary>
    public Uri ClientUrl { get; }

    /// <summary>The peer URL.</summary>
    public Uri PeerUrl { get; }

    /// <summary>True while the process runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The last lines etcd logged, for failure messages.</summary>
    public string LogTail => string.Join('\n', _log);

    internal void Start(string initialCluster, string clusterToken)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"etcd member {Name} is already running.");
        }

        var startInfo = new ProcessStartInfo(_executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // ETCD_* variables would be read as flags too; keep the member's configuration in one place.
        foreach (var variable in startInfo.Environment.Keys.Where(k => k.StartsWith("ETCD", StringComparison.Ordinal)).ToList())
        {
            startInfo.Environment.Remove(variable);
        }

        foreach (var arg in new[]
                 {
                     "--name", Name,
                     "--data-dir", DataDir,
                     "--listen-client-urls", ClientUrl.ToString().TrimEnd('/'),
                     "--advertise-client-urls", ClientUrl.ToString().TrimEnd('/'),
                     "--listen-peer-urls", PeerUrl.ToString().TrimEnd('/'),
                     "--initial-advertise-peer-urls", PeerUrl.ToString().TrimEnd('/'),
                     "--initial-cluster", initialCluster,
                     // Ignored by etcd once the data directory holds a member, so the same flags serve restarts.
                     "--initial-cluster-state", "new",
                     "--initial-cluster-token", clusterToken,
                     "--logger", "zap",
                     "--log-outputs", "stderr",
                 })
        {
            startInfo.ArgumentList.Add(arg);
        }

        _log.Clear();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ready = ready;
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        DataReceivedEventHandler onLine = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            _log.Enqueue(e.Data);
            while (_log.Count > LogLines && _log.TryDequeue(out var _))
            {
            }

            if (e.Data.Contains(ReadyMarker, StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        };
        process.OutputDataReceived += onLine;
        process.ErrorDataReceived += onLine;
        process.Exited += (_, _) => ready.TrySetException(
            new InvalidOperationException($"etcd member {Name} exited with code {SafeExitCode(process)} before it was ready. Log:\n{LogTail}"));

        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    /// <summary>Waits until the member serves clients and reports itself healthy.</summary>
    internal async Task WaitReadyAsync(HttpClient http, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _ready.Task.WaitAsync(cts.Token);

            // The log line says the listener is up; /health confirms the member sees a leader.
            while (true)
            {
                try
                {
                    var health = await http.GetStringAsync(new Uri(ClientUrl, "/health"), cts.Token);
                    if (health.Contains("\"health\":\"true\"", StringComparison.Ordinal))
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                }

                await Task.Delay(50, cts.Token);
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"etcd member {Name} ({ClientUrl}) was not healthy within {timeout.TotalSeconds:0.#} s. Log:\n{LogTail}");
        }
    }

    /// <summary>SIGSTOP: the member freezes with its sockets open, so a request sent to it gets no answer; <see cref="Resume"/> continues it.</summary>
    public void Pause() => Signal(Signals.Stop);

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal(Signals.Continue);

    private void Signal(int signal) => Signals.Send(_process, signal);

    /// <summary>SIGKILL, then wait for the process to be gone.</summary>
    internal async Task KillAsync()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: false);
            }

            await process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }

        process.Dispose();
        _process = null;
    }

    private static string SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (InvalidOperationException)
        {
            return "?";
        }
    }
}
