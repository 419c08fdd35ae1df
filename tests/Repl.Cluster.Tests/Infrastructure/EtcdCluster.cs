using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Repl.Actors.Etcd;

namespace Repl.Cluster.Tests.Infrastructure;

/// <summary>
/// A real etcd cluster of 1 or more member processes on loopback ports, for tests.
/// </summary>
/// <remarks>
/// <para>Start with <c>await using var cluster = await EtcdCluster.StartAsync(members: 3);</c>.</para>
/// <para>
/// Members keep their ports and data directories across <see cref="KillAsync"/> and
/// <see cref="RestartAsync"/>, so a restarted member rejoins as itself. Disposal kills every
/// process and deletes the data directories. etcd must be on PATH (scripts/install-etcd.sh).
/// </para>
/// </remarks>
public sealed class EtcdCluster : IAsyncDisposable
{
    /// <summary>Default bound on a member becoming healthy (start or restart).</summary>
    public static readonly TimeSpan DefaultStartTimeout = TimeSpan.FromSeconds(20);

    private readonly string _root;
    private readonly string _initialCluster;
    private readonly string _token;
    private readonly EtcdMemberProcess[] _members;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(2) };

    private EtcdCluster(string root, EtcdMemberProcess[] members, string token)
    {
        _root = root;
        _members = members;
        _token = token;
        _initialCluster = string.Join(',', members.Select(m => $"{m.Name}={m.PeerUrl.ToString().TrimEnd('/')}"));
    }

    /// <summary>The members, by index.</summary>
    public IReadOnlyList<EtcdMemberProcess> Members => _members;

    /// <summary>The client URLs of all members, by index (running or not).</summary>
    public IReadOnlyList<Uri> ClientUrls => _members.Select(m => m.ClientUrl).ToArray();

    /// <summary>Client URLs as the comma-separated list a broker's <c>--etcd</c> option takes.</summary>
    public string ClientUrlList => string.Join(',', _members.Select(m => m.ClientUrl.ToString().TrimEnd('/')));

    /// <summary>Starts a new cluster and waits until every member is healthy.</summary>
    /// <param name="members">Number of members (1 or 3 typically).</param>
    /// <param name="startTimeout">Bound on the whole start; default <see cref="DefaultStartTimeout"/>.</param>
    /// <exception cref="InvalidOperationException">etcd is not installed.</exception>
    public static async Task<EtcdCluster> StartAsync(int members = 1, TimeSpan? startTimeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(members, 1);
        var executable = FindEtcd();

        // Free ports are picked by binding port 0 then releasing it, so another process can
        // grab one in between; a start that fails that way is retried on fresh ports.
        for (var attempt = 1; ; attempt++)
        {
            var cluster = Create(executable, members);
            try
            {
                foreach (var member in cluster._members)
                {
                    member.Start(cluster._initialCluster, cluster._token);
                }

                await cluster.WaitReadyAsync(Enumerable.Range(0, members), startTimeout ?? DefaultStartTimeout);
                return cluster;
            }
            catch (Exception e) when (attempt < 3 && e.Message.Contains("address already in use", StringComparison.Ordinal))
            {
                await cluster.DisposeAsync();
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>A connection over the members in <paramref name="members"/> (default: every member), as a node makes it.</summary>
    public EtcdConnection CreateClient(TimeSpan? requestTimeout = null, IEnumerable<int>? members = null) =>
        new(string.Join(',', (members ?? Enumerable.Range(0, _members.Length)).Select(i => _members[i].ClientUrl)), requestTimeout ?? TimeSpan.FromSeconds(5));

    /// <summary>Kills member <paramref name="index"/> with SIGKILL (no graceful shutdown) and waits for it to exit.</summary>
    public Task KillAsync(int index) => _members[index].KillAsync();

    /// <summary>
    /// Starts the given stopped members again (same name, ports and data) and waits until they
    /// are healthy. Restart a quorum together: a member only becomes ready once a leader exists.
    /// </summary>
    public async Task RestartAsync(params int[] indexes)
    {
        foreach (var index in indexes)
        {
            _members[index].Start(_initialCluster, _token);
        }

        await WaitReadyAsync(indexes, DefaultStartTimeout);
    }

    /// <summary>The index of the current leader, asking the running members until one is known.</summary>
    /// <exception cref="TimeoutException">No leader within <paramref name="timeout"/> (default 10 s).</exception>
    public async Task<int> LeaderIndexAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(10);
        using var cts = new CancellationTokenSource(limit);
        using var client = CreateClient(requestTimeout: TimeSpan.FromSeconds(2));
        while (true)
        {
            var statuses = new List<(int Index, Etcdserverpb.StatusResponse Status)>();
            for (var i = 0; i < _members.Length; i++)
            {
                if (!_members[i].IsRunning)
                {
                    continue;
                }

                try
                {
                    statuses.Add((i, await client.StatusOfAsync(_members[i].ClientUrl, cts.Token)));
                }
                catch (RpcException)
                {
                }
            }

            // Only trust a leader that is itself running and agrees it leads.
            var leader = statuses.FirstOrDefault(s => s.Status.Leader != 0 && s.Status.Leader == s.Status.Header.MemberId);
            if (leader.Status is not null)
            {
                return leader.Index;
            }

            try
            {
                await Task.Delay(50, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No etcd leader among running members within {limit.TotalSeconds:0.#} s.");
            }
        }
    }

    /// <summary>Kills every member and deletes the data directories.</summary>
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_members.Select(m => m.KillAsync()));
        _http.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private async Task WaitReadyAsync(IEnumerable<int> indexes, TimeSpan timeout) =>
        await Task.WhenAll(indexes.Select(i => _members[i].WaitReadyAsync(_http, timeout)));

    private static EtcdCluster Create(string executable, int count)
    {
        var root = Path.Combine(Path.GetTempPath(), "repl-etcd-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var ports = FreePorts(count * 2);
        var members = new EtcdMemberProcess[count];
        for (var i = 0; i < count; i++)
        {
            members[i] = new EtcdMemberProcess(executable, $"n{i}", Path.Combine(root, $"n{i}"), ports[2 * i], ports[(2 * i) + 1]);
        }

        return new EtcdCluster(root, members, "repl-test-" + Path.GetFileName(root));
    }

    private static int[] FreePorts(int count)
    {
        // All listeners are held open together so the ports are distinct.
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }

    private static string FindEtcd()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin").Append("/usr/local/bin"))
        {
            var candidate = Path.Combine(dir, "etcd");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            "etcd was not found on PATH. The cluster tests start real etcd processes: run scripts/install-etcd.sh " +
            "(installs Debian's etcd-server and etcd-client 3.4) and run the tests again.");
    }
}
