using Repl.Actors.Cluster.Etcd;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests;

[Collection(SingleNodeEtcdCollection.Name)]
public sealed class LeaseTests(SingleNodeEtcdFixture etcd)
{
    private readonly EtcdClient _client = etcd.Client;
    private readonly string _prefix = SingleNodeEtcdFixture.UniquePrefix();

    [Fact]
    public async Task LeaseRevoke_DeletesKeysAttachedToLease()
    {
        var lease = await _client.LeaseGrantAsync(TimeSpan.FromSeconds(30));
        await _client.PutAsync(_prefix + "member", "node-1", lease: lease.Id);
        Assert.Equal(lease.Id, (await _client.GetAsync(_prefix + "member"))?.Lease);

        await _client.LeaseRevokeAsync(lease.Id);

        Assert.Null(await _client.GetAsync(_prefix + "member"));
    }

    [Fact]
    public async Task LeaseGrant_ReturnsIdAndTtl()
    {
        var lease = await _client.LeaseGrantAsync(TimeSpan.FromSeconds(10));

        Assert.NotEqual(0, lease.Id);
        Assert.Equal(TimeSpan.FromSeconds(10), lease.Ttl);
        await _client.LeaseRevokeAsync(lease.Id);
    }

    [Fact]
    public async Task LeaseKeepAliveOnce_LiveLease_ReturnsTtl()
    {
        var lease = await _client.LeaseGrantAsync(TimeSpan.FromSeconds(10));

        var ttl = await _client.LeaseKeepAliveOnceAsync(lease.Id);

        Assert.Equal(TimeSpan.FromSeconds(10), ttl);
        await _client.LeaseRevokeAsync(lease.Id);
    }

    [Fact]
    public async Task LeaseKeepAliveOnce_RevokedLease_ReturnsZero()
    {
        var lease = await _client.LeaseGrantAsync(TimeSpan.FromSeconds(10));
        await _client.LeaseRevokeAsync(lease.Id);

        Assert.Equal(TimeSpan.Zero, await _client.LeaseKeepAliveOnceAsync(lease.Id));
    }

    [Fact]
    public async Task LeaseRevoke_UnknownLease_ThrowsEtcdExceptionWithGatewayMessage()
    {
        var error = await Assert.ThrowsAsync<EtcdException>(() => _client.LeaseRevokeAsync(0x7eadbeef));

        Assert.Equal(5, error.GrpcCode);
        Assert.Equal(404, error.HttpStatus);
        Assert.Contains("requested lease not found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutWithUnknownLease_ThrowsEtcdException()
    {
        var error = await Assert.ThrowsAsync<EtcdException>(() => _client.PutAsync(_prefix + "k", "v", lease: 0x7eadbeef));

        Assert.Contains("lease not found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LeaseKeeper_KeepsLeaseAlivePastItsTtl()
    {
        await using var keeper = await _client.StartLeaseAsync(TimeSpan.FromSeconds(2));
        await _client.PutAsync(_prefix + "alive", "yes", lease: keeper.LeaseId);

        // Long enough for etcd to have expired an unrenewed 2 s lease.
        var lost = await Task.WhenAny(keeper.Lost, Task.Delay(TimeSpan.FromSeconds(3)));

        Assert.NotSame(keeper.Lost, lost);
        Assert.False(keeper.LostToken.IsCancellationRequested);
        Assert.NotNull(await _client.GetAsync(_prefix + "alive"));
    }

    [Fact]
    public async Task LeaseKeeper_LeaseRevokedElsewhere_SignalsLost()
    {
        await using var keeper = await _client.StartLeaseAsync(TimeSpan.FromSeconds(3));

        await _client.LeaseRevokeAsync(keeper.LeaseId);
        var reason = await keeper.Lost.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.True(keeper.IsLost);
        Assert.True(keeper.LostToken.IsCancellationRequested);
        Assert.Contains("no longer exists", reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LeaseKeeper_Dispose_RevokesLeaseAndItsKeys()
    {
        var keeper = await _client.StartLeaseAsync(TimeSpan.FromSeconds(30));
        await _client.PutAsync(_prefix + "member", "x", lease: keeper.LeaseId);

        await keeper.DisposeAsync();

        Assert.Null(await _client.GetAsync(_prefix + "member"));
        Assert.False(keeper.IsLost);
    }
}
