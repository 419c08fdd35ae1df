using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Coordination;
using Akka.DependencyInjection;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Persistence;
using Repl.Actors.Sequencer;
using Repl.Actors.Storage;
using Repl.Cluster.Tests.Infrastructure;
using ReplJournal = Repl.Actors.Storage.Journal;

namespace Repl.Cluster.Tests;

/// <summary>
/// The sequencer on etcd, one process: its journal (<see cref="EtcdJournal"/>), snapshot store and lease
/// (<see cref="EtcdCoordinationLease"/>) against a real etcd, through the real <see cref="SequencerActor"/>.
/// </summary>
[Collection(SingleNodeEtcdCollection.Name)]
public sealed class SequencerOnEtcdTests(SingleNodeEtcdFixture etcd) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly string _prefix = SingleNodeEtcdFixture.UniquePrefix().TrimEnd('/');
    private readonly List<IDisposable> _owned = [];

    [Fact]
    public async Task Commits_AreContiguousSequenceNumbers_AndEveryReaderDecodesTheSamePositionsAndIds()
    {
        var node = Node("n1");
        var sequencer = await node.StartSequencerAsync();

        Assert.True(await node.CreateAsync(sequencer, "t") > 0);
        var positions = await node.PublishAsync(sequencer, "t", "a", "b", "c");

        Assert.Equal([2L, 3L, 4L], positions);
        var read = await ReadAsync(4);
        Assert.Equal([1L, 2L, 3L, 4L], read.Select(entry => entry.Position));
        Assert.Equal(LogEntryKind.CreateTopic, read[0].Kind);
        Assert.Equal(["2", "3", "4"], read.Skip(1).Select(entry => System.Text.Json.JsonDocument.Parse(entry.Message).RootElement.GetProperty("id").GetString()));
        Assert.Equal(4, await HeadAsync());
    }

    [Fact]
    public async Task APublishToATopicThatDoesNotExist_IsNotLogged()
    {
        var node = Node("n1");
        var sequencer = await node.StartSequencerAsync();
        await node.CreateAsync(sequencer, "t");

        var positions = await node.PublishAsync(sequencer, "nope", "x");

        Assert.Equal([0L], positions);
        Assert.Equal(1, await HeadAsync());
    }

    [Fact]
    public async Task WithoutTheLease_NothingIsCommitted()
    {
        var node = Node("n1");
        var sequencer = await node.StartSequencerAsync(acquireLease: false);

        var answer = await sequencer.Ask<object>(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "t", 0, SequencerNode.Deadline()), Wait);

        var rejected = Assert.IsType<SequencerProtocol.Rejected>(answer);
        Assert.Contains("lease", rejected.Reason);
        Assert.Equal(0, await HeadAsync());
    }

    [Fact]
    public async Task AZombieWhoseLeaseExpired_CannotCommit_AndTheNextSequencerGoesOnFromEtcdsHead()
    {
        var first = Node("n1");
        var zombie = await first.StartSequencerAsync();
        await first.CreateAsync(zombie, "t");
        await first.PublishAsync(zombie, "t", "a");
        // The zombie's etcd lease runs out (its keep-alives stopped, e.g. a partition): etcd deletes the lease key.
        await first.LoseLeaseInEtcdAsync();

        var second = Node("n2");
        var sequencer = await second.StartSequencerAsync();
        var zombieAnswer = await zombie.Ask<object>(new SequencerProtocol.Publish(1, [LogCommands.Publish("t", "lost")], SequencerNode.Deadline()), Wait);
        var positions = await second.PublishAsync(sequencer, "t", "b");

        Assert.IsType<SequencerProtocol.Rejected>(zombieAnswer);
        Assert.Equal([3L], positions);
        Assert.Equal(["a", "b"], (await ReadAsync(3)).Where(e => e.Kind == LogEntryKind.Publish).Select(e => Value(e.Message)));
    }

    [Fact]
    public async Task WritesOverOneTransaction_AreCommittedInTransactionsThatNeverSplitABatch()
    {
        var node = Node("n1");
        var sequencer = await node.StartSequencerAsync();
        await node.CreateAsync(sequencer, "t");
        string value = new('x', 200_000);

        // The first write is in flight while three batches of two ~200 KB messages queue behind it: 1.2 MB in all, more
        // than one transaction takes (1 MiB), so they are written in two, each holding whole batches.
        // Made before the first is sent, so they are sent microseconds apart, well within its write.
        var queued = Enumerable.Range(2, 3).Select(id => new SequencerProtocol.Publish(id, [LogCommands.Publish("t", value), LogCommands.Publish("t", value)], SequencerNode.Deadline())).ToList();
        var first = sequencer.Ask<object>(new SequencerProtocol.Publish(1, [LogCommands.Publish("t", "first")], SequencerNode.Deadline()), Wait);
        var batches = queued.Select(publish => sequencer.Ask<object>(publish, Wait)).ToArray();

        Assert.IsType<SequencerProtocol.Committed>(await first);
        foreach (var batch in batches) Assert.IsType<SequencerProtocol.Committed>(await batch);
        var transactions = await SequencerNode.ReadTransactionsAsync(etcd.Client, _prefix);
        Assert.Equal(8, transactions.Sum(entries => entries.Count));
        Assert.All(transactions, entries => Assert.True(entries.Count(entry => entry.Message.Length > 1_000) % 2 == 0,
            $"a transaction holds part of a batch: {string.Join(" | ", transactions.Select(t => t.Count))}"));
    }

    [Fact]
    public async Task AWriteEtcdRefuses_IsAnsweredNotCommitted_AndTheWriteBeforeItCommittedAndSaysSo()
    {
        var node = Node("n1");
        var sequencer = await node.StartSequencerAsync();
        await node.CreateAsync(sequencer, "t");

        // Behind the first write: a batch of ~920 KB, then one of ~1.7 MB, over etcd's request limit (1.5 MiB by
        // default). The second cannot go into the first's transaction; alone, etcd refuses it.
        string part = new('f', 230_000);
        // Made before the first is sent, so they are sent microseconds apart, well within its write.
        var fitting = new SequencerProtocol.Publish(2, [.. Enumerable.Range(0, 4).Select(i => LogCommands.Publish("t", $"{i}{part}"))], SequencerNode.Deadline());
        var overLimit = new SequencerProtocol.Publish(3, [LogCommands.Publish("t", new string('l', 1_700_000))], SequencerNode.Deadline());
        var first = sequencer.Ask<object>(new SequencerProtocol.Publish(1, [LogCommands.Publish("t", "first")], SequencerNode.Deadline()), Wait);
        var fits = sequencer.Ask<object>(fitting, Wait);
        var tooLarge = sequencer.Ask<object>(overLimit, Wait);

        Assert.IsType<SequencerProtocol.Committed>(await first);
        var committed = Assert.IsType<SequencerProtocol.Committed>(await fits);
        var refused = Assert.IsType<SequencerProtocol.Rejected>(await tooLarge);
        Assert.Contains("nothing of it was committed", refused.Reason);
        var published = (await SequencerNode.ReadTransactionsAsync(etcd.Client, _prefix)).SelectMany(entries => entries).Where(entry => entry.Kind == LogEntryKind.Publish).ToList();
        Assert.Equal(["first", .. Enumerable.Range(0, 4).Select(i => $"{i}{part}")], published.Select(entry => Value(entry.Message)));
        Assert.Equal(committed.Positions, published.Skip(1).Select(entry => entry.Position));
    }

    [Fact]
    public async Task ALostAnswer_IsAnsweredOutcomeUnknown_AndARetryWithTheSameKeyIsCommittedOnce()
    {
        var node = Node("n1", requestTimeout: TimeSpan.FromSeconds(1));
        var sequencer = await node.StartSequencerAsync();
        await node.CreateAsync(sequencer, "t");

        // etcd frozen: the transaction goes out (the connection is open) and its answer never comes before the deadline.
        var member = etcd.Cluster.Members[0];
        object answer;
        member.Pause();
        try
        {
            answer = await sequencer.Ask<object>(new SequencerProtocol.Publish(1, [LogCommands.Publish("t", "lost?", key: "k1")], SequencerNode.Deadline()), Wait);
        }
        finally
        {
            member.Resume();
        }

        var unknown = Assert.IsType<SequencerProtocol.OutcomeUnknown>(answer);
        Assert.Equal(1, unknown.BatchId);
        Assert.Contains("outcome is unknown", unknown.Reason);
        // Whether etcd applied it once it woke up is not known here; a retry with the key commits it once either way.
        long position = await SequencerNode.PublishUntilCommittedAsync(sequencer, "t", "lost?", "k1", TimeSpan.FromSeconds(30));
        var published = (await SequencerNode.ReadTransactionsAsync(etcd.Client, _prefix)).SelectMany(entries => entries).Where(entry => entry.Kind == LogEntryKind.Publish).ToList();
        Assert.Equal([position], published.Where(entry => Value(entry.Message) == "lost?").Select(entry => entry.Position));
    }

    [Fact]
    public async Task TheNextSequencer_RecoversTheTopicsAndIdempotencyKeys_FromTheSnapshotInEtcd()
    {
        var first = Node("n1", snapshotEvery: 1);
        var sequencer = await first.StartSequencerAsync();
        await first.CreateAsync(sequencer, "t");
        var keyed = await sequencer.Ask<SequencerProtocol.Committed>(new SequencerProtocol.Publish(1, [LogCommands.Publish("t", "a", key: "k1")], SequencerNode.Deadline()), Wait);
        await first.StopSequencerAsync(sequencer);

        var second = Node("n2");
        var next = await second.StartSequencerAsync();
        var retried = await next.Ask<SequencerProtocol.Committed>(new SequencerProtocol.Publish(2, [LogCommands.Publish("t", "a", key: "k1")], SequencerNode.Deadline()), Wait);
        var fresh = await second.PublishAsync(next, "t", "b");

        Assert.Equal(keyed.Positions, retried.Positions);
        Assert.Equal([3L], fresh);
    }

    [Fact]
    public async Task TheLease_HasOneHolderAtATime_AndPassesOnWhenReleased()
    {
        var a = Node("n1");
        var b = Node("n2");
        var leaseA = a.Lease();
        var leaseB = b.Lease();

        Assert.True(await leaseA.Acquire());
        Assert.False(await leaseB.Acquire());
        Assert.True(await leaseA.Release());
        Assert.True(await leaseB.Acquire());
        Assert.True(leaseB.CheckLease());
        Assert.False(leaseA.CheckLease());
    }

    private SequencerNode Node(string name, int snapshotEvery = 10_000, TimeSpan? requestTimeout = null)
    {
        var node = new SequencerNode(name, _prefix, etcd.Cluster.ClientUrlList, snapshotEvery, requestTimeout);
        _owned.Add(node);
        return node;
    }

    private Task<long> HeadAsync() => SequencerNode.HeadAsync(etcd.Client, _prefix);

    private Task<List<LogEntry>> ReadAsync(int count) => SequencerNode.ReadAsync(etcd.Client, _prefix, count);

    private static string Value(byte[] message) => System.Text.Json.JsonDocument.Parse(message).RootElement.GetProperty("value").GetString()!;

    public void Dispose()
    {
        foreach (var owned in _owned) owned.Dispose();
    }
}
