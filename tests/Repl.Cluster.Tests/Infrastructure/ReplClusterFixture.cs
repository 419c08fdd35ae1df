namespace Repl.Cluster.Tests.Infrastructure;

/// <summary>
/// Three etcd members and three Repl nodes (n1..n3), shared by the tests of <see cref="ReplClusterCollection"/>,
/// which run one after another. Each test uses its own topics; a test that kills a process brings it back before it ends.
/// </summary>
public sealed class ReplClusterFixture : IAsyncLifetime
{
    /// <summary>Faster reactions than production defaults, so failure tests stay short.</summary>
    public static readonly string[] NodeSettings =
    [
        "--Cluster:UnavailableAfter", "00:00:03",
        "--Cluster:LeaseTtl", "00:00:05",
    ];

    private EtcdCluster? _etcd;
    private ReplNodeProcess[] _nodes = [];

    public EtcdCluster Etcd => _etcd ?? throw new InvalidOperationException("not started");

    public IReadOnlyList<ReplNodeProcess> Nodes => _nodes;

    public async Task InitializeAsync()
    {
        _etcd = await EtcdCluster.StartAsync(members: 3);
        _nodes = await Task.WhenAll(Enumerable.Range(1, 3).Select(i => ReplNodeProcess.StartAsync($"n{i}", _etcd.ClientUrlList, NodeSettings)));
    }

    /// <summary>Restarts whatever a test left stopped and waits until every node is ready.</summary>
    public async Task HealAsync()
    {
        var stopped = Enumerable.Range(0, Etcd.Members.Count).Where(i => !Etcd.Members[i].IsRunning).ToArray();
        if (stopped.Length > 0) await Etcd.RestartAsync(stopped);
        await Task.WhenAll(_nodes.Select(node => node.IsRunning ? node.WaitReadyAsync(TimeSpan.FromSeconds(60)) : node.RestartAsync()));
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        if (_etcd is not null) await _etcd.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ReplClusterCollection : ICollectionFixture<ReplClusterFixture>
{
    public const string Name = "repl cluster";
}
