using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Cluster;
using Repl.Actors.Log;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests;

[Collection(SingleNodeEtcdCollection.Name)]
public sealed class EtcdLogTests(SingleNodeEtcdFixture etcd)
{
    private EtcdLog NewLog(string prefix, string node = "n1", int maxTxnBytes = 1 << 20) =>
        new(etcd.Client, new EtcdLogOptions { Prefix = prefix, NodeId = node, MaxTxnBytes = maxTxnBytes }, [], new LogHealth(TimeProvider.System), TimeProvider.System, NullLogger.Instance);

    private static async Task<List<LogEntry>> ReadAsync(EtcdLog log, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var entries = new List<LogEntry>();
        await foreach (var batch in log.ReadAsync(0, timeout.Token))
        {
            entries.AddRange(batch);
            if (entries.Count >= count) break;
        }
        return entries;
    }

    [Fact]
    public async Task CreateTwice_SecondAnswers0_DeleteUnknownAnswers0()
    {
        await using var log = NewLog(SingleNodeEtcdFixture.UniquePrefix());

        long created = await log.CreateTopicAsync("t", default);
        long again = await log.CreateTopicAsync("t", default);
        long deleted = await log.DeleteTopicAsync("t", default);
        long deletedAgain = await log.DeleteTopicAsync("t", default);

        Assert.True(created > 0);
        Assert.Equal(0, again);
        Assert.True(deleted > created);
        Assert.Equal(0, deletedAgain);
    }

    [Fact]
    public async Task BatchOverTheTxnSize_IsSplit_AndReadersSeeTheSamePositionsAndIds()
    {
        await using var log = NewLog(SingleNodeEtcdFixture.UniquePrefix(), maxTxnBytes: 600);
        await log.CreateTopicAsync("t", default);
        var commands = Enumerable.Range(0, 20).Select(i => LogCommands.Publish("t", new string('x', 50) + i)).ToArray();

        long[] positions = await log.AppendAsync(commands, default);
        var read = await ReadAsync(log, 21);

        Assert.True(positions.Select(EtcdPositions.RevisionOf).Distinct().Count() > 1, "the batch was split over several revisions");
        Assert.Equal(positions, read.Skip(1).Select(entry => entry.Position));
        Assert.All(read.Skip(1).Zip(commands), pair =>
        {
            var json = JsonDocument.Parse(pair.First.Message).RootElement;
            Assert.Equal(pair.First.Position.ToString(), json.GetProperty("id").GetString());
            Assert.Equal(JsonDocument.Parse(pair.Second.Body).RootElement.GetProperty("value").GetString(), json.GetProperty("value").GetString());
        });
    }

    [Fact]
    public async Task TwoProcessesWithOneNodeId_BothCommit_EachBatchOnce()
    {
        // A node restarted while its previous incarnation's last write had an unknown outcome looks like this.
        string prefix = SingleNodeEtcdFixture.UniquePrefix();
        await using var first = NewLog(prefix);
        await using var second = NewLog(prefix);
        await first.CreateTopicAsync("t", default);

        long a = (await first.AppendAsync([LogCommands.Publish("t", "a")], default))[0];
        long b = (await second.AppendAsync([LogCommands.Publish("t", "b")], default))[0];
        long c = (await first.AppendAsync([LogCommands.Publish("t", "c")], default))[0];

        var read = await ReadAsync(first, 4);
        Assert.Equal([a, b, c], read.Skip(1).Select(entry => entry.Position));
        Assert.Equal(["a", "b", "c"], read.Skip(1).Select(entry => JsonDocument.Parse(entry.Message).RootElement.GetProperty("value").GetString()));
    }

    [Fact]
    public async Task ReaderFarBehind_GetsBatchesLargerTogetherThanOneGrpcMessage()
    {
        // etcd sends a lagging watch up to 1,000 revisions in one answer: here 8 × ~900 KB, over gRPC's default 4 MB.
        await using var log = NewLog(SingleNodeEtcdFixture.UniquePrefix());
        await log.CreateTopicAsync("big", default);
        var body = new string('x', 900_000);
        var positions = new List<long>();
        for (int i = 0; i < 8; i++) positions.AddRange(await log.AppendAsync([LogCommands.Publish("big", body + i)], default));

        var read = await ReadAsync(log, 9);

        Assert.Equal(positions, read.Skip(1).Select(entry => entry.Position));
    }
}
