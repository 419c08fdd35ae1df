using Repl.Actors.Etcd;

namespace Repl.Cluster.Tests.Infrastructure;

/// <summary>One single-member etcd shared by a test collection; tests isolate themselves by key prefix.</summary>
public sealed class SingleNodeEtcdFixture : IAsyncLifetime
{
    private EtcdCluster? _cluster;
    private EtcdConnection? _client;

    /// <summary>The running cluster.</summary>
    public EtcdCluster Cluster => _cluster ?? throw new InvalidOperationException("Fixture not initialised.");

    /// <summary>A client connected to it.</summary>
    public EtcdConnection Client => _client ?? throw new InvalidOperationException("Fixture not initialised.");

    /// <summary>A key prefix no other test uses.</summary>
    public static string UniquePrefix() => $"/test/{Guid.NewGuid():N}/";

    public async Task InitializeAsync()
    {
        _cluster = await EtcdCluster.StartAsync(members: 1);
        _client = _cluster.CreateClient();
    }

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            _client.Dispose();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

/// <summary>Test classes sharing one single-member etcd (run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class SingleNodeEtcdCollection : ICollectionFixture<SingleNodeEtcdFixture>
{
    public const string Name = "single-node etcd";
}
