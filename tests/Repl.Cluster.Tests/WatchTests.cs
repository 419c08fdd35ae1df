using Repl.Actors.Cluster.Etcd;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests;

[Collection(SingleNodeEtcdCollection.Name)]
public sealed class WatchTests(SingleNodeEtcdFixture etcd)
{
    private readonly EtcdClient _client = etcd.Client;
    private readonly string _prefix = SingleNodeEtcdFixture.UniquePrefix();

    [Fact]
    public async Task Watch_ReceivesLivePutsInRevisionOrder()
    {
        // Watching from "current + 1" rather than 0 ("from now"): the watch is created
        // asynchronously, and a put racing ahead of it would not be delivered.
        var start = (await _client.RangeAsync(_prefix)).Header.Revision + 1;
        var collecting = WatchCollector.CollectAsync(_client.WatchPrefixAsync(_prefix, start), count: 5);

        var revisions = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            revisions.Add((await _client.PutAsync($"{_prefix}k{i}", $"v{i}")).Header.Revision);
        }

        var events = await collecting.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.All(events, e => Assert.Equal(WatchEventType.Put, e.Type));
        Assert.Equal(revisions, events.Select(e => e.Kv.ModRevision));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"v{i}"), events.Select(e => e.Kv.ValueString));
    }

    [Fact]
    public async Task Watch_FromStartRevision_ReplaysHistoryFromThere()
    {
        var revisions = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            revisions.Add((await _client.PutAsync(_prefix + "k", $"v{i}")).Header.Revision);
        }

        var events = await WatchCollector.CollectAsync(_client.WatchAsync(_prefix + "k", null, startRevision: revisions[1]), count: 3);

        Assert.Equal(revisions[1..], events.Select(e => e.Kv.ModRevision));
        Assert.Equal(["v1", "v2", "v3"], events.Select(e => e.Kv.ValueString));
    }

    [Fact]
    public async Task Watch_SingleKey_IgnoresOtherKeys()
    {
        var start = (await _client.PutAsync(_prefix + "other", "x")).Header.Revision;
        await _client.PutAsync(_prefix + "mine", "1");
        await _client.PutAsync(_prefix + "mine2", "x");
        await _client.PutAsync(_prefix + "mine", "2");

        var events = await WatchCollector.CollectAsync(_client.WatchAsync(_prefix + "mine", null, start), count: 2);

        Assert.All(events, e => Assert.Equal(_prefix + "mine", e.Kv.KeyString));
        Assert.Equal(["1", "2"], events.Select(e => e.Kv.ValueString));
    }

    [Fact]
    public async Task Watch_Delete_ReportsDeleteEventAtItsRevision()
    {
        var start = (await _client.PutAsync(_prefix + "k", "v")).Header.Revision;
        var deleted = await _client.DeleteRangeAsync(_prefix + "k");

        var events = await WatchCollector.CollectAsync(_client.WatchPrefixAsync(_prefix, start), count: 2);

        Assert.Equal(WatchEventType.Put, events[0].Type);
        Assert.Equal(WatchEventType.Delete, events[1].Type);
        Assert.Equal(deleted.Header.Revision, events[1].Kv.ModRevision);
        Assert.Equal(_prefix + "k", events[1].Kv.KeyString);
    }

    [Fact]
    public async Task Watch_TxnOfManyPuts_ArrivesAsOneBatchInOpOrder()
    {
        var ops = Enumerable.Range(0, 50).Select(i => TxnOp.Put($"{_prefix}b/{49 - i:D2}", $"m{i}")).ToArray();
        var txn = await _client.TxnAsync([], ops);

        var batches = new List<WatchBatch>();
        var events = await WatchCollector.CollectAsync(_client.WatchPrefixAsync(_prefix, txn.Header.Revision), count: 50, batches: batches);

        var batch = Assert.Single(batches);
        Assert.Equal(50, batch.Events.Count);
        Assert.All(events, e => Assert.Equal(txn.Header.Revision, e.Kv.ModRevision));
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m{i}"), events.Select(e => e.Kv.ValueString));
    }

    [Fact]
    public async Task Watch_Cancelled_EndsEnumeration()
    {
        using var cts = new CancellationTokenSource();
        var enumerator = _client.WatchPrefixAsync(_prefix, 0, cancellationToken: cts.Token).GetAsyncEnumerator();
        var next = enumerator.MoveNextAsync().AsTask();

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next.WaitAsync(TimeSpan.FromSeconds(5)));
        await enumerator.DisposeAsync();
    }
}
