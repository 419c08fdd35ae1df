using Etcdserverpb;
using Grpc.Core;
using Repl.Actors.Etcd;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests.Broker;

/// <summary>The compacting node keeps etcd to its window; replays older than it come from the node's journal replica.</summary>
public sealed class CompactionDutyTests : IAsyncLifetime
{
    private EtcdCluster _etcd = null!;
    private ReplNodeProcess _node = null!;

    public async Task InitializeAsync()
    {
        _etcd = await EtcdCluster.StartAsync(members: 1);
        _node = await ReplNodeProcess.StartAsync("a1", _etcd.ClientUrlList, "--Cluster:CompactInterval", "00:00:01", "--Cluster:WindowRevisions", "20");
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        await _etcd.DisposeAsync();
    }

    [Fact]
    public async Task OldRevisionsCompacted_ReplayFromTheStartStillComplete_FromTheJournal()
    {
        await _node.Client.CreateTopicAsync("compacted");
        using var etcd = _etcd.CreateClient();
        var ids = new List<long> { await _node.Client.PublishAsync("compacted", "m0") };
        // The revision of the batch that holds the first message.
        long first = (await etcd.GetAsync("/repl/log", default))!.ModRevision;
        for (int i = 1; i < 60; i++) ids.Add(await _node.Client.PublishAsync("compacted", $"m{i}"));

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            try
            {
                await etcd.Client.GetAsync(new RangeRequest { Key = EtcdConnection.Key("/repl/log"), Revision = first }, deadline: etcd.Deadline());
            }
            catch (RpcException error) when (EtcdConnection.IsCompacted(error))
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "etcd was never compacted");
            await Task.Delay(200);
        }

        await using var stream = await SseStream.OpenAsync(_node.BaseAddress, "/topics/compacted/sse", lastEventId: "0");
        Assert.Equal(ids, (await stream.MessagesAsync(ids.Count)).Select(m => m.Id));
    }
}
