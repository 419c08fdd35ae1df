using Repl.Actors.Cluster.Etcd;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests;

[Collection(SingleNodeEtcdCollection.Name)]
public sealed class TxnTests(SingleNodeEtcdFixture etcd)
{
    private readonly EtcdClient _client = etcd.Client;
    private readonly string _prefix = SingleNodeEtcdFixture.UniquePrefix();

    [Fact]
    public async Task Txn_KeyAbsentCompareHolds_RunsSuccessBranch()
    {
        var key = _prefix + "lock";

        var result = await _client.TxnAsync(
            [TxnCompare.Version(key, CompareResult.Equal, 0)],
            [TxnOp.Put(key, "owner-1")],
            [TxnOp.Range(key)]);

        Assert.True(result.Succeeded);
        var response = Assert.Single(result.Responses);
        Assert.Equal(TxnOpKind.Put, response.Kind);
        Assert.Equal("owner-1", (await _client.GetAsync(key))?.ValueString);
    }

    [Fact]
    public async Task Txn_CompareFails_RunsFailureBranch()
    {
        var key = _prefix + "lock";
        var existing = await _client.PutAsync(key, "owner-1");

        var result = await _client.TxnAsync(
            [TxnCompare.Version(key, CompareResult.Equal, 0)],
            [TxnOp.Put(key, "owner-2")],
            [TxnOp.Range(key)]);

        Assert.False(result.Succeeded);
        var response = Assert.Single(result.Responses);
        Assert.Equal(TxnOpKind.Range, response.Kind);
        var kv = Assert.Single(response.Range!.Kvs);
        Assert.Equal("owner-1", kv.ValueString);
        Assert.Equal(existing.Header.Revision, kv.ModRevision);
        Assert.Equal("owner-1", (await _client.GetAsync(key))?.ValueString);
    }

    [Fact]
    public async Task Txn_ModRevisionGuard_RejectsStaleWriter()
    {
        var key = _prefix + "seq";
        var first = await _client.PutAsync(key, "1");
        await _client.PutAsync(key, "2");

        var stale = await _client.TxnAsync([TxnCompare.ModRevision(key, CompareResult.Equal, first.Header.Revision)], [TxnOp.Put(key, "stale")]);
        var current = await _client.GetAsync(key);
        var fresh = await _client.TxnAsync([TxnCompare.ModRevision(key, CompareResult.Equal, current!.ModRevision)], [TxnOp.Put(key, "3")]);

        Assert.False(stale.Succeeded);
        Assert.True(fresh.Succeeded);
        Assert.Equal("3", (await _client.GetAsync(key))?.ValueString);
    }

    [Theory]
    [InlineData(CompareResult.Equal, "b", true)]
    [InlineData(CompareResult.Equal, "a", false)]
    [InlineData(CompareResult.NotEqual, "b", false)]
    [InlineData(CompareResult.NotEqual, "a", true)]
    [InlineData(CompareResult.Greater, "a", true)]
    [InlineData(CompareResult.Less, "c", true)]
    [InlineData(CompareResult.Less, "a", false)]
    public async Task Txn_ValueCompare_FollowsByteOrder(CompareResult relation, string operand, bool expected)
    {
        var key = _prefix + "v";
        await _client.PutAsync(key, "b");

        var result = await _client.TxnAsync([TxnCompare.Value(key, relation, operand)], []);

        Assert.Equal(expected, result.Succeeded);
    }

    [Fact]
    public async Task Txn_VersionAndCreateRevisionCompares_Hold()
    {
        var key = _prefix + "c";
        var created = await _client.PutAsync(key, "1");
        await _client.PutAsync(key, "2");

        var result = await _client.TxnAsync(
            [
                TxnCompare.Version(key, CompareResult.Greater, 1),
                TxnCompare.CreateRevision(key, CompareResult.Equal, created.Header.Revision),
            ],
            [TxnOp.Range(key)]);

        Assert.True(result.Succeeded);
        Assert.Equal("2", result.Responses[0].Range!.Kvs[0].ValueString);
    }

    [Fact]
    public async Task Txn_HundredPutsInOneTransaction_ShareOneRevision()
    {
        var ops = Enumerable.Range(0, 100).Select(i => TxnOp.Put($"{_prefix}batch/{i:D3}", $"message {i}")).ToArray();

        var result = await _client.TxnAsync([], ops);

        Assert.True(result.Succeeded);
        Assert.Equal(100, result.Responses.Count);
        Assert.All(result.Responses, r => Assert.Equal(TxnOpKind.Put, r.Kind));
        var stored = await _client.GetPrefixAsync(_prefix + "batch/");
        Assert.Equal(100, stored.Kvs.Count);
        Assert.All(stored.Kvs, kv => Assert.Equal(result.Header.Revision, kv.ModRevision));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"message {i}"), stored.Kvs.Select(kv => kv.ValueString));
    }

    [Fact]
    public async Task Txn_MoreOpsThanMaxTxnOps_IsRefusedWithEtcdException()
    {
        var ops = Enumerable.Range(0, EtcdClient.DefaultMaxTxnOps + 1).Select(i => TxnOp.Put($"{_prefix}big/{i}", "x")).ToArray();

        var error = await Assert.ThrowsAsync<EtcdException>(() => _client.TxnAsync([], ops));

        Assert.IsNotType<EtcdUnavailableException>(error);
        Assert.Contains("too many operations", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Empty((await _client.GetPrefixAsync(_prefix + "big/")).Kvs);
    }

    [Fact]
    public async Task Txn_DeleteInSuccessBranch_ReportsDeletedCount()
    {
        await _client.PutAsync(_prefix + "x", "1");

        var result = await _client.TxnAsync([TxnCompare.Version(_prefix + "x", CompareResult.Greater, 0)], [TxnOp.DeleteRange(_prefix + "x")]);

        Assert.True(result.Succeeded);
        Assert.Equal(1, result.Responses[0].DeleteRange!.Deleted);
    }
}
