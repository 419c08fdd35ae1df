using Repl.Actors.Cluster.Etcd;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests;

[Collection(SingleNodeEtcdCollection.Name)]
public sealed class KvTests(SingleNodeEtcdFixture etcd)
{
    private readonly EtcdClient _client = etcd.Client;
    private readonly string _prefix = SingleNodeEtcdFixture.UniquePrefix();

    [Fact]
    public async Task Put_ThenGet_ReturnsValueWithRevisions()
    {
        var put = await _client.PutAsync(_prefix + "a", "hello");
        var kv = await _client.GetAsync(_prefix + "a");

        Assert.NotNull(kv);
        Assert.Equal("hello", kv.ValueString);
        Assert.Equal(_prefix + "a", kv.KeyString);
        Assert.Equal(put.Header.Revision, kv.ModRevision);
        Assert.Equal(put.Header.Revision, kv.CreateRevision);
        Assert.Equal(1, kv.Version);
        Assert.Equal(0, kv.Lease);
    }

    [Fact]
    public async Task Put_Twice_BumpsVersionAndKeepsCreateRevision()
    {
        var first = await _client.PutAsync(_prefix + "a", "1");
        var second = await _client.PutAsync(_prefix + "a", "2", prevKv: true);
        var kv = await _client.GetAsync(_prefix + "a");

        Assert.NotNull(kv);
        Assert.Equal(2, kv.Version);
        Assert.Equal(first.Header.Revision, kv.CreateRevision);
        Assert.Equal(second.Header.Revision, kv.ModRevision);
        Assert.Equal("1", second.PrevKv?.ValueString);
    }

    [Fact]
    public async Task Get_MissingKey_ReturnsNull()
    {
        Assert.Null(await _client.GetAsync(_prefix + "missing"));
    }

    [Fact]
    public async Task GetPrefix_ReturnsOnlyKeysUnderPrefix_InKeyOrder()
    {
        await _client.PutAsync(_prefix + "p/b", "2");
        await _client.PutAsync(_prefix + "p/a", "1");
        await _client.PutAsync(_prefix + "p/c", "3");
        await _client.PutAsync(_prefix + "q", "outside");
        await _client.PutAsync(_prefix + "p", "the prefix itself is no child");

        var result = await _client.GetPrefixAsync(_prefix + "p/");

        Assert.Equal([_prefix + "p/a", _prefix + "p/b", _prefix + "p/c"], result.Kvs.Select(kv => kv.KeyString));
        Assert.Equal(["1", "2", "3"], result.Kvs.Select(kv => kv.ValueString));
        Assert.Equal(3, result.Count);
        Assert.False(result.More);
    }

    [Fact]
    public async Task Range_WithLimit_ReportsMoreAndTotalCount()
    {
        for (var i = 0; i < 5; i++)
        {
            await _client.PutAsync($"{_prefix}k{i}", $"v{i}");
        }

        var result = await _client.GetPrefixAsync(_prefix, limit: 2);

        Assert.Equal(2, result.Kvs.Count);
        Assert.True(result.More);
        Assert.Equal(5, result.Count);
    }

    [Fact]
    public async Task Range_KeysOnly_ReturnsEmptyValues()
    {
        await _client.PutAsync(_prefix + "a", "value");

        var result = await _client.RangeAsync(_prefix + "a", keysOnly: true);

        Assert.Single(result.Kvs);
        Assert.Empty(result.Kvs[0].Value);
    }

    [Fact]
    public async Task Range_AtOlderRevision_SeesOldValue()
    {
        var first = await _client.PutAsync(_prefix + "a", "old");
        await _client.PutAsync(_prefix + "a", "new");

        var result = await _client.RangeAsync(_prefix + "a", revision: first.Header.Revision);

        Assert.Equal("old", Assert.Single(result.Kvs).ValueString);
    }

    [Fact]
    public async Task Put_BinaryKeyAndValue_RoundTrips()
    {
        byte[] key = [.. System.Text.Encoding.UTF8.GetBytes(_prefix), 0x00, 0xff, 0x10];
        byte[] value = [0x00, 0x01, 0xfe, 0xff];

        await _client.PutAsync(key, value);
        var result = await _client.RangeAsync(key);

        Assert.Equal(value, Assert.Single(result.Kvs).Value);
        Assert.Equal(key, result.Kvs[0].Key);
    }

    [Fact]
    public async Task DeleteRange_Prefix_DeletesEveryKeyUnderIt()
    {
        await _client.PutAsync(_prefix + "d/1", "x");
        await _client.PutAsync(_prefix + "d/2", "y");
        await _client.PutAsync(_prefix + "keep", "z");

        var deleted = await _client.DeletePrefixAsync(_prefix + "d/", prevKv: true);

        Assert.Equal(2, deleted.Deleted);
        Assert.Equal(2, deleted.PrevKvs.Count);
        Assert.Empty((await _client.GetPrefixAsync(_prefix + "d/")).Kvs);
        Assert.NotNull(await _client.GetAsync(_prefix + "keep"));
    }
}
