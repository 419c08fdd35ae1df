using Etcdserverpb;
using Google.Protobuf;
using Repl.Actors.Etcd;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests;

[Collection(SingleNodeEtcdCollection.Name)]
public sealed class EtcdLeaseTests(SingleNodeEtcdFixture etcd)
{
    private readonly EtcdConnection _etcd = etcd.Client;
    private readonly string _prefix = SingleNodeEtcdFixture.UniquePrefix();

    [Fact]
    public async Task Lease_KeptAlivePastItsTtl()
    {
        await using var lease = await EtcdLease.GrantAsync(_etcd, TimeSpan.FromSeconds(3), TimeProvider.System, default);
        await PutAsync(_prefix + "alive", lease.Id);

        // Long enough for etcd to have expired an unrenewed 3 s lease.
        var lost = await Task.WhenAny(lease.Lost, Task.Delay(TimeSpan.FromSeconds(5)));

        Assert.NotSame(lease.Lost, lost);
        Assert.NotNull(await _etcd.GetAsync(_prefix + "alive", default));
    }

    [Fact]
    public async Task Lease_RevokedElsewhere_IsLost()
    {
        await using var lease = await EtcdLease.GrantAsync(_etcd, TimeSpan.FromSeconds(3), TimeProvider.System, default);

        await _etcd.Client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease.Id }, deadline: _etcd.Deadline());
        var reason = await lease.Lost.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.True(lease.IsLost);
        Assert.Contains("no longer exists", reason.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lease_Disposed_RevokesItAndItsKeys()
    {
        var lease = await EtcdLease.GrantAsync(_etcd, TimeSpan.FromSeconds(30), TimeProvider.System, default);
        await PutAsync(_prefix + "member", lease.Id);

        await lease.DisposeAsync();

        Assert.Null(await _etcd.GetAsync(_prefix + "member", default));
        Assert.False(lease.IsLost);
    }

    private Task<PutResponse> PutAsync(string key, long lease) => _etcd.PutAsync(key, ByteString.CopyFromUtf8("x"), lease, default);
}
