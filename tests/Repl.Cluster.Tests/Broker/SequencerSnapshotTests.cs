using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Repl.Actors.Etcd;
using Repl.Cluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Repl.Cluster.Tests.Broker;

/// <summary>
/// The sequencer's snapshots in etcd while its idempotency window holds more keys than etcd takes in one request: they
/// are still saved, and after a kill -9 of the sequencer's node a retry of an early and of a late key answers its first
/// position.
/// </summary>
[Collection(ReplClusterCollection.Name)]
public sealed class SequencerSnapshotTests(ReplClusterFixture cluster, ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>12,000 keys of 200 characters: about 2.8 MB written whole, over etcd's 1.5 MiB request limit.</summary>
    private const int Keys = 12_000;

    private const int Batch = 100;

    /// <summary>The brokers' <c>Sequencer:SnapshotEvery</c> (the default): past this many positions after the keys, a snapshot was due.</summary>
    private const int SnapshotEvery = 10_000;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => cluster.HealAsync();

    [Fact]
    public async Task SnapshotsAreSaved_WithMoreKeysThanEtcdTakesInARequest_AndRetriesAfterAHandoverAnswerTheFirstPosition()
    {
        var nodes = await cluster.SequencerFirstAsync();
        var sequencer = nodes[0];
        var publisher = nodes[1];
        var topic = "snap-" + Guid.NewGuid().ToString("N")[..10];
        await cluster.CreateTopicAsync(publisher, topic, TimeSpan.FromSeconds(30));

        string Key(int i) => $"{topic}-{i:D6}".PadRight(200, 'k');
        var clock = Stopwatch.StartNew();
        var keyed = new List<long>();
        for (int from = 0; from < Keys; from += Batch)
        {
            var items = Enumerable.Range(from, Batch).Select(i => new { value = i, idempotencyKey = Key(i) });
            keyed.AddRange(await PublishBatchAsync(publisher, topic, JsonSerializer.Serialize(items)));
        }
        long early = keyed[0], late = keyed[^1];
        output.WriteLine($"{Keys:N0} keyed publishes at {early}..{late} in {clock.Elapsed.TotalSeconds:0.0} s");

        // Positions after the keys until a snapshot is due, which must then be saved at or after the last key.
        using var etcd = cluster.Etcd.CreateClient();
        int filler = 0;
        long saved;
        while ((saved = await SnapshotAtAsync(etcd)) < late && filler < SnapshotEvery + Batch)
        {
            await PublishBatchAsync(publisher, topic, JsonSerializer.Serialize(Enumerable.Range(0, Batch).Select(i => new { value = i })));
            filler += Batch;
        }
        // The save is asynchronous: the snapshot that was due may land a moment after the last acknowledgement.
        var waited = Stopwatch.StartNew();
        while (saved < late && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(100);
            saved = await SnapshotAtAsync(etcd);
        }
        Assert.True(saved >= late, $"no snapshot saved at or after {late}: etcd's is at {saved}, {filler} positions after the keys\n{sequencer.OutputTail}");
        output.WriteLine($"snapshot saved at {saved}, {filler} positions after the keys");

        sequencer.Kill();
        foreach (var (i, first) in new[] { (0, early), (Keys - 1, late) })
        {
            var sent = Stopwatch.StartNew();
            while (true)
            {
                var (status, id, body) = await publisher.Client.TryPublishAsync(topic, "again", Key(i));
                if (status == HttpStatusCode.Created)
                {
                    Assert.Equal(first, id);
                    break;
                }
                Assert.True(status is HttpStatusCode.ServiceUnavailable or 0, $"the retry of key {i} answered {(int)status}: {body}");
                Assert.True(sent.Elapsed < TimeSpan.FromSeconds(60), $"the retry of key {i} was not answered within 60 s: {(int)status} {body}");
                await Task.Delay(200);
            }
        }
        output.WriteLine($"retries answered their first positions {clock.Elapsed.TotalSeconds:0.0} s in");
    }

    /// <summary>Publishes a batch, again after a 503 as a client would; returns the ids.</summary>
    private static async Task<long[]> PublishBatchAsync(ReplNodeProcess node, string topic, string items)
    {
        var sent = Stopwatch.StartNew();
        while (true)
        {
            var (status, body) = await node.Client.SendAsync(HttpMethod.Post, $"/topics/{topic}/batch", items);
            if (status == HttpStatusCode.Created) return [.. body.GetProperty("data").EnumerateArray().Select(message => long.Parse(message.GetProperty("id").GetString()!))];
            Assert.True(status == HttpStatusCode.ServiceUnavailable && sent.Elapsed < TimeSpan.FromSeconds(30), $"a batch answered {(int)status}: {body}");
            await Task.Delay(100);
        }
    }

    /// <summary>The sequence number of the sequencer's snapshot in etcd (0: none).</summary>
    private static async Task<long> SnapshotAtAsync(EtcdConnection etcd)
    {
        var kv = (await etcd.Client.GetAsync(new Etcdserverpb.RangeRequest { Key = EtcdConnection.Key("/repl/snapshots/repl-log") }, deadline: etcd.Deadline())).Kvs.FirstOrDefault();
        return kv is null ? 0 : BinaryPrimitives.ReadInt64LittleEndian(kv.Value.Span);
    }
}
