using Etcdserverpb;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Cluster;
using Repl.Actors.Journal;
using Repl.Actors.Log;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests;

/// <summary>Compaction discards history for every key, so these tests get an etcd of their own.</summary>
public sealed class CompactionTests : IAsyncLifetime
{
    private EtcdCluster _cluster = null!;
    private EtcdConnection _etcd = null!;

    public async Task InitializeAsync()
    {
        _cluster = await EtcdCluster.StartAsync(members: 1);
        _etcd = _cluster.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _etcd.Dispose();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task Range_AtCompactedRevision_IsCompacted()
    {
        var first = await PutAsync("/c/r", "1");
        var second = await PutAsync("/c/r", "2");
        await CompactAsync(second.Header.Revision);

        var error = await Assert.ThrowsAsync<RpcException>(() => _etcd.GetPrefixAsync("/c/", first.Header.Revision, default));

        Assert.True(EtcdConnection.IsCompacted(error), error.ToString());
    }

    [Fact]
    public async Task Compact_AlreadyCompactedRevision_IsCompacted()
    {
        await PutAsync("/c/x", "1");
        var second = await PutAsync("/c/x", "2");
        await CompactAsync(second.Header.Revision);

        var error = await Assert.ThrowsAsync<RpcException>(() => CompactAsync(second.Header.Revision - 1));

        Assert.True(EtcdConnection.IsCompacted(error), error.ToString());
    }

    [Fact]
    public async Task LogRead_FromCompactedRevision_ResynchronisesWithCreatesAndTruncates()
    {
        // A node that knew topic "gone" and nothing else comes back after the log was compacted past it.
        await using var writer = NewLog("n1", []);
        long gone = await writer.CreateTopicAsync("gone", default);
        await writer.CreateTopicAsync("kept", default);
        await writer.AppendAsync([LogCommands.Publish("kept", "lost")], default);
        await writer.DeleteTopicAsync("gone", default);
        var head = await PutAsync("/c/head", "x");
        await CompactAsync(head.Header.Revision);
        await using var reader = NewLog("n2", [new TopicRecord("gone", gone, 0)]);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        IReadOnlyList<LogEntry> resync = [];
        await foreach (var batch in reader.ReadAsync(0, timeout.Token))
        {
            resync = batch;
            break;
        }

        Assert.Equal(
            [(LogEntryKind.DeleteTopic, "gone"), (LogEntryKind.CreateTopic, "kept"), (LogEntryKind.Truncate, "kept")],
            resync.Select(entry => (entry.Kind, entry.Topic)));
        Assert.All(resync, entry => Assert.Equal(head.Header.Revision, EtcdPositions.RevisionOf(entry.Position)));
        Assert.Equal(resync.Select(entry => entry.Position).Order(), resync.Select(entry => entry.Position));
    }

    private EtcdLog NewLog(string node, IEnumerable<TopicRecord> topics) =>
        new(_etcd, new EtcdLogOptions { Prefix = "/c/repl", NodeId = node }, topics, new LogHealth(TimeProvider.System), TimeProvider.System, NullLogger.Instance);

    private Task<PutResponse> PutAsync(string key, string value) => _etcd.PutAsync(key, Google.Protobuf.ByteString.CopyFromUtf8(value), 0, default);

    private Task<CompactionResponse> CompactAsync(long revision) =>
        _etcd.Client.CompactAsync(new CompactionRequest { Revision = revision }, deadline: _etcd.Deadline());
}
