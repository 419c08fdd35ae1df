using Repl.Actors.Cluster.Etcd;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests;

/// <summary>Compaction discards history for every key, so these tests get an etcd of their own.</summary>
public sealed class CompactionTests : IAsyncLifetime
{
    private EtcdCluster _cluster = null!;
    private EtcdClient _client = null!;

    public async Task InitializeAsync()
    {
        _cluster = await EtcdCluster.StartAsync(members: 1);
        _client = _cluster.CreateClient();
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task Watch_FromCompactedRevision_ThrowsEtcdCompactedException()
    {
        var first = await _client.PutAsync("/c/k", "1");
        await _client.PutAsync("/c/k", "2");
        var third = await _client.PutAsync("/c/k", "3");
        await _client.CompactAsync(third.Header.Revision);

        var error = await Assert.ThrowsAsync<EtcdCompactedException>(
            () => WatchCollector.CollectAsync(_client.WatchAsync("/c/k", null, first.Header.Revision), count: 1));

        Assert.Equal(first.Header.Revision, error.RequestedRevision);
        Assert.Equal(third.Header.Revision, error.CompactRevision);
    }

    [Fact]
    public async Task Watch_AtCompactionPoint_StillReplays()
    {
        await _client.PutAsync("/c/k", "1");
        var second = await _client.PutAsync("/c/k", "2");
        await _client.CompactAsync(second.Header.Revision);

        var events = await WatchCollector.CollectAsync(_client.WatchAsync("/c/k", null, second.Header.Revision), count: 1);

        Assert.Equal("2", events[0].Kv.ValueString);
    }

    [Fact]
    public async Task Range_AtCompactedRevision_ThrowsEtcdCompactedException()
    {
        var first = await _client.PutAsync("/c/r", "1");
        var second = await _client.PutAsync("/c/r", "2");
        await _client.CompactAsync(second.Header.Revision);

        var error = await Assert.ThrowsAsync<EtcdCompactedException>(() => _client.RangeAsync("/c/r", revision: first.Header.Revision));

        Assert.Equal(first.Header.Revision, error.RequestedRevision);
    }

    [Fact]
    public async Task Compact_AlreadyCompactedRevision_ThrowsEtcdCompactedException()
    {
        await _client.PutAsync("/c/x", "1");
        var second = await _client.PutAsync("/c/x", "2");
        await _client.CompactAsync(second.Header.Revision);

        await Assert.ThrowsAsync<EtcdCompactedException>(() => _client.CompactAsync(second.Header.Revision - 1));
    }
}
