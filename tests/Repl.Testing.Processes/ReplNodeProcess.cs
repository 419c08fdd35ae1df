using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Repl.Testing.Processes;

/// <summary>
/// A Repl node in its own process (<c>dotnet Repl.Host.dll</c> from the test's bin folder, or another build of the host:
/// <see cref="OfHost"/>): a cluster broker when given etcd endpoints, standalone otherwise, or a lighthouse
/// (<see cref="StartLighthouseAsync"/>). Keeps its HTTP port, Akka remoting port (cluster mode) and data folder across
/// <see cref="Kill"/> and <see cref="RestartAsync"/>, so a restart is a new incarnation at the same Akka address.
/// Used by the tests and by the bench's crash runs (bench/Repl.Bench/Crash).
/// </summary>
public sealed class ReplNodeProcess : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentQueue<string> _errors = new();
    private Process? _process;

    /// <summary>Bind failures a first start retries on other ports (see <see cref="RestartAsync"/>).</summary>
    private const int BindRetries = 3;

    /// <summary>The exit code of a node that cannot listen on its HTTP or cluster port (README, "Exits are clean").</summary>
    public const int BindFailure = 4;

    /// <param name="port">Null: a free port, picked again if another process takes it before the node binds it.</param>
    /// <param name="host">The host to run: an executable, or a <c>.dll</c> run with <c>dotnet</c>; null: the Repl.Host.dll beside this assembly.</param>
    /// <param name="cpus">A CPU list for <c>taskset -c</c>, or null.</param>
    /// <param name="ownsDataDir">Whether disposing deletes <paramref name="dataDir"/>.</param>
    private ReplNodeProcess(string id, string? etcd, string dataDir, int? port, string[] settings, IReadOnlyList<string>? seeds = null, bool lighthouse = false,
        int? clusterPort = null, string? host = null, string? cpus = null, bool ownsDataDir = true)
    {
        Id = id;
        IsLighthouse = lighthouse;
        _picksClusterPort = clusterPort is null;
        ClusterPort = clusterPort ?? FreePort();
        // A broker given no seeds is a one-broker Akka cluster that seeds itself (cluster mode refuses no seeds at all).
        _seeds = seeds;
        Etcd = etcd;
        DataDir = dataDir;
        Settings = settings;
        _picksPort = port is null;
        BaseAddress = new Uri($"http://127.0.0.1:{port ?? FreePort()}");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        _host = host ?? Path.Combine(AppContext.BaseDirectory, "Repl.Host.dll");
        _cpus = cpus;
        _ownsDataDir = ownsDataDir;
    }

    public string Id { get; }

    public string? Etcd { get; }

    public bool IsLighthouse { get; }

    private readonly IReadOnlyList<string>? _seeds;
    private readonly string _host;
    private readonly string? _cpus;
    private readonly bool _ownsDataDir;
    private readonly bool _picksPort;
    private readonly bool _picksClusterPort;
    private bool _started;

    /// <summary>
    /// Akka remoting's port (cluster mode and lighthouses; a standalone node picks its own). A lighthouse keeps it (it is
    /// a seed); a broker restarted after a kill gets a new one, so it joins as a new member while its old incarnation is
    /// still being downed (see RestartAsync).
    /// </summary>
    public int ClusterPort { get; private set; }

    /// <summary>This node's Akka address, as <c>/cluster</c> lists it.</summary>
    public string AkkaAddress => AkkaAddressOf(ClusterPort);

    /// <summary>The seeds the node joins (cluster mode and lighthouses).</summary>
    public IReadOnlyList<string> Seeds => _seeds ?? [AkkaAddress];

    public string DataDir { get; }

    public string[] Settings { get; }

    /// <summary>The node's HTTP address; fixed once the node has started (a first start may move it off a port taken meanwhile).</summary>
    public Uri BaseAddress { get; private set; }

    public HttpClient Client { get; }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The node's last log lines, for failure messages.</summary>
    public string OutputTail => string.Join('\n', _output);

    /// <summary>What the current (or last) process wrote to stderr, line by line (its logs go to stdout).</summary>
    public IReadOnlyList<string> ErrorLines => [.. _errors];

    /// <summary>The last process's exit code once it has exited, else null.</summary>
    public int? ExitCode => _process is { HasExited: true } process ? process.ExitCode : null;

    /// <summary>Starts a node and waits until <c>/readyz</c> answers 200.</summary>
    /// <param name="etcd">Comma-separated etcd client URLs; null for a standalone node.</param>
    public static Task<ReplNodeProcess> StartAsync(string id, string? etcd, params string[] settings) =>
        StartedAsync(new ReplNodeProcess(id, etcd, TempDir.Create(), port: null, settings));

    /// <summary>
    /// A standalone node of the build at <paramref name="host"/> (an executable, or a <c>.dll</c> run with <c>dotnet</c>)
    /// on <paramref name="dataDir"/>, which it leaves in place when disposed; optionally pinned to <paramref name="cpus"/>
    /// with <c>taskset -c</c>. Not started: <see cref="RestartAsync"/> starts it.
    /// </summary>
    public static ReplNodeProcess OfHost(string id, string host, string dataDir, int port, string? cpus, params string[] settings) =>
        new(id, null, dataDir, port, settings, host: host, cpus: cpus, ownsDataDir: false);

    /// <summary>
    /// Starts a standalone node on <paramref name="port"/> and returns once its process runs, ready or not (it may be
    /// about to fail: the port in use). Dispose it to delete its data folder.
    /// </summary>
    public static async Task<ReplNodeProcess> LaunchAsync(string id, int port, params string[] settings)
    {
        var node = new ReplNodeProcess(id, null, TempDir.Create(), port, settings);
        await node.RestartAsync(waitReady: false);
        return node;
    }

    /// <summary>Starts a broker of an etcd cluster that joins the Akka cluster through <paramref name="seeds"/>; waits until ready.</summary>
    public static Task<ReplNodeProcess> StartBrokerAsync(string id, string etcd, IReadOnlyList<string> seeds, params string[] settings) =>
        StartBrokerAsync(id, etcd, seeds, waitReady: true, settings);

    /// <param name="waitReady">False: returns once the process runs, ready or not.</param>
    public static Task<ReplNodeProcess> StartBrokerAsync(string id, string etcd, IReadOnlyList<string> seeds, bool waitReady, params string[] settings) =>
        StartedAsync(new ReplNodeProcess(id, etcd, TempDir.Create(), port: null, settings, seeds), waitReady);

    /// <summary>
    /// Starts a lighthouse on <paramref name="clusterPort"/> (known before, since every lighthouse's address is in the
    /// seeds) with HTTP for its probes; waits until it is an Up member.
    /// </summary>
    public static Task<ReplNodeProcess> StartLighthouseAsync(string id, int clusterPort, IReadOnlyList<string> seeds, params string[] settings) =>
        StartedAsync(new ReplNodeProcess(id, null, TempDir.Create(), port: null, settings, seeds, lighthouse: true, clusterPort));

    /// <summary>Starts <paramref name="node"/>'s process; disposes it (its data dir too) when that fails.</summary>
    private static async Task<ReplNodeProcess> StartedAsync(ReplNodeProcess node, bool waitReady = true)
    {
        try
        {
            await node.RestartAsync(waitReady: waitReady);
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
        return node;
    }

    public static string AkkaAddressOf(int clusterPort) => $"akka.tcp://repl@127.0.0.1:{clusterPort}";

    /// <summary>Starts the process (again) on the same port and data folder; returns once it is ready.</summary>
    /// <param name="waitReady">False: returns once the process runs, ready or not.</param>
    /// <remarks>
    /// A port picked free may be taken before the node binds it (by another test's node, or as the source port of an
    /// outgoing connection): the node then exits <see cref="BindFailure"/>. A first start that waits for readiness tries
    /// again on newly picked ports (those it picked itself, not given ones), at most <see cref="BindRetries"/> times.
    /// </remarks>
    public async Task RestartAsync(TimeSpan? timeout = null, bool waitReady = true)
    {
        if (IsRunning) throw new InvalidOperationException($"node {Id} is already running");
        bool first = !_started;
        // A broker restarted at the same address a second or two after a kill -9 was once not let back in for over a
        // minute (its seeds stopped answering InitJoin while the old incarnation was being downed). A new port is a new
        // member and sidesteps that; the old incarnation is downed by the resolver as any dead member.
        if (_started && Etcd is not null && !IsLighthouse) ClusterPort = FreePort();
        _started = true;
        for (int attempt = 0; ; attempt++)
        {
            Launch();
            if (!waitReady) return;
            try
            {
                await WaitReadyAsync(timeout ?? TimeSpan.FromSeconds(60));
                return;
            }
            catch (InvalidOperationException) when (first && attempt < BindRetries && ExitCode == BindFailure && (_picksPort || _picksClusterPort))
            {
                if (_picksPort)
                {
                    BaseAddress = new Uri($"http://127.0.0.1:{FreePort()}");
                    Client.BaseAddress = BaseAddress; // nobody has sent a request through it yet: the node never started
                }
                if (_picksClusterPort) ClusterPort = FreePort();
            }
        }
    }

    private void Launch()
    {
        List<string> command = [];
        // taskset execs the host: the pid is the host's own, and signals reach it.
        if (_cpus is not null) command.AddRange(["taskset", "-c", _cpus]);
        if (_host.EndsWith(".dll", StringComparison.Ordinal)) command.Add("dotnet");
        string url = BaseAddress.ToString().TrimEnd('/');
        command.AddRange([_host, "--urls", url, "--Logging:LogLevel:Default", "Warning"]);
        if (!IsLighthouse) command.AddRange(["--data-dir", DataDir, "--node-id", Id]);
        if (Etcd is not null) command.AddRange(["--etcd", Etcd, "--advertise-url", url]);
        if (Etcd is not null || IsLighthouse)
        {
            command.AddRange(["--cluster-ip", "127.0.0.1", "--cluster-port", ClusterPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seeds", string.Join(',', Seeds)]);
        }
        if (IsLighthouse) command.AddRange(["--role", "lighthouse"]);
        var start = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in command.Skip(1).Concat(Settings)) start.ArgumentList.Add(arg);
        _errors.Clear();
        _process?.Dispose();
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {_host}");
        _process.OutputDataReceived += (_, line) => Keep(line.Data);
        _process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is not null) _errors.Enqueue(line.Data);
            Keep(line.Data);
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Waits until <c>/readyz</c> answers 200.</summary>
    public Task WaitReadyAsync(TimeSpan timeout) => WaitAnswersAsync("/readyz", timeout);

    /// <summary>Waits until <c>/health</c> answers 200: the node is up, ready or not (one that cannot commit, on a full disk, is up but not ready).</summary>
    public Task WaitUpAsync(TimeSpan timeout) => WaitAnswersAsync("/health", timeout);

    private async Task WaitAnswersAsync(string path, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        using var probe = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        while (DateTime.UtcNow < deadline)
        {
            if (_process is { HasExited: true }) throw new InvalidOperationException($"node {Id} exited with {_process.ExitCode}:\n{OutputTail}");
            try
            {
                using var answer = await probe.GetAsync(path);
                if (answer.IsSuccessStatusCode) return;
            }
            catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"node {Id} did not answer {path} within {timeout.TotalSeconds:0} s:\n{OutputTail}");
    }

    /// <summary>Whether the process ends by itself within <paramref name="timeout"/>.</summary>
    public async Task<bool> ExitsWithinAsync(TimeSpan timeout)
    {
        if (_process is null) return true;
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            _process.WaitForExit(); // drains the redirected output
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The process's exit code once it ends by itself within <paramref name="timeout"/>; null when it still runs then (it is killed).</summary>
    public async Task<int?> ExitCodeWithinAsync(TimeSpan timeout)
    {
        if (await ExitsWithinAsync(timeout)) return ExitCode;
        Kill();
        return null;
    }

    /// <summary>SIGTERM: what a supervisor (systemd, Kubernetes, docker stop) sends; the node shuts down gracefully.</summary>
    public void Terminate() => Signal(Signals.Terminate);

    /// <summary>SIGSTOP: the process freezes as in a long pause or a partition, sockets open; <see cref="Resume"/> continues it.</summary>
    public void Pause() => Signal(Signals.Stop);

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal(Signals.Continue);

    private void Signal(int signal) => Signals.Send(_process, signal);

    /// <summary>SIGKILL to the process and its children: no shutdown code runs.</summary>
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
        if (_ownsDataDir) TempDir.Delete(DataDir);
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        _output.Enqueue(line);
        while (_output.Count > 200) _output.TryDequeue(out _);
    }

    /// <summary>A loopback port nobody listens on now (someone may before the caller binds it).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
