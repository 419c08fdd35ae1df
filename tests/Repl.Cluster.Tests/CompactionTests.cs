using System.Text;
using Akka.Actor;
using Etcdserverpb;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Sequencer;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
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
    public async Task LogRead_FromCompactedRevision_ResynchronisesWithCreatesDeletesAndATruncateOfEveryTopic_AtTheLastLostPositions()
    {
        // A node that knew topic "gone" and nothing else comes back after the log was compacted past it.
        using var writer = new SequencerNode("n1", "/c/repl", _cluster.ClientUrlList);
        var sequencer = await writer.StartSequencerAsync();
        long gone = await writer.CreateAsync(sequencer, "gone");
        await writer.CreateAsync(sequencer, "kept");
        await writer.PublishAsync(sequencer, "kept", "lost");
        long last = await writer.DeleteAsync(sequencer, "gone");
        var head = await PutAsync("/c/head", "x");
        await CompactAsync(head.Header.Revision);
        await using var reader = NewLog("n2", [new TopicRecord("gone", gone, 0)]);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        EtcdLog.LogBatch? resync = null;
        await foreach (var batch in reader.ReadAsync(gone, 0, timeout.Token))
        {
            resync = batch;
            break;
        }

        Assert.NotNull(resync);
        Assert.Equal(
            [(LogEntryKind.DeleteTopic, "gone"), (LogEntryKind.CreateTopic, "kept"), (LogEntryKind.Truncate, "")],
            resync.Entries.Select(entry => (entry.Kind, entry.Topic)));
        // The positions the node lost, ending at the last one, so the log's own go on after them.
        Assert.Equal([last - 2, last - 1, last], resync.Entries.Select(entry => entry.Position));
        Assert.Equal(head.Header.Revision, resync.Revision);
    }

    [Fact]
    public async Task LogRead_FromCompactedRevision_ResynchronisesTheSettingsChangedInTheLostRange_FromTheTopicKeys()
    {
        using var writer = new SequencerNode("n1", "/c/repl", _cluster.ClientUrlList);
        var sequencer = await writer.StartSequencerAsync();
        long kept = await writer.CreateAsync(sequencer, "kept");
        long plain = await writer.CreateAsync(sequencer, "plain");
        var settings = new TopicSettings(MaxMessages: 3, PublishRate: 2, Presence: true);
        var change = new SequencerProtocol.ChangeTopic(LogEntryKind.Settings, "kept", 0, SequencerNode.Deadline(), settings,
            TopicSettingsFields.MaxMessages | TopicSettingsFields.PublishRate | TopicSettingsFields.Presence);
        long configured = (await sequencer.Ask<SequencerProtocol.TopicChanged>(change, TimeSpan.FromSeconds(10))).Position;
        Assert.True(configured > plain);
        await writer.PublishAsync(sequencer, "kept", "lost");
        // The topic key keeps the create's position, then the settings.
        var key = await _etcd.GetAsync("/c/repl/topics/kept", default);
        Assert.Equal($"{kept} {Encoding.UTF8.GetString(settings.ToJson())}", key!.Value.ToStringUtf8());
        var head = await PutAsync("/c/head", "x");
        await CompactAsync(head.Header.Revision);
        // A node that knew both topics, without settings, comes back after the log was compacted past the change.
        await using var reader = NewLog("n2", [new TopicRecord("kept", kept, 0), new TopicRecord("plain", plain, 0)]);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        EtcdLog.LogBatch? resync = null;
        await foreach (var batch in reader.ReadAsync(plain, 0, timeout.Token))
        {
            resync = batch;
            break;
        }

        Assert.NotNull(resync);
        Assert.Equal([(LogEntryKind.Settings, "kept"), (LogEntryKind.Truncate, "")], resync.Entries.Select(entry => (entry.Kind, entry.Topic)));
        Assert.Equal(settings, TopicSettings.FromJson(resync.Entries[0].Message));
        Assert.Equal(kept, resync.Entries[0].Through);
    }

    private EtcdLog NewLog(string node, IEnumerable<TopicRecord> topics) =>
        new(_etcd, new EtcdLogOptions { Prefix = "/c/repl", NodeId = node }, topics, new LogHealth(TimeProvider.System), TimeProvider.System, NullLogger.Instance);

    private Task<PutResponse> PutAsync(string key, string value) => _etcd.PutAsync(key, Google.Protobuf.ByteString.CopyFromUtf8(value), 0, default);

    private Task<CompactionResponse> CompactAsync(long revision) =>
        _etcd.Client.CompactAsync(new CompactionRequest { Revision = revision }, deadline: _etcd.Deadline());
}
