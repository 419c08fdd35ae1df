using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Coordination;
using Akka.DependencyInjection;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Cluster;
using Repl.Actors.Journal;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Persistence;
using Repl.Actors.Sequencer;
using Repl.Cluster.Tests.Infrastructure;
using ReplJournal = Repl.Actors.Journal.Journal;

namespace Repl.Cluster.Tests;

/// <summary>
/// The sequencer on etcd, one process: its journal (<see cref="EtcdJournal"/>), snapshot store and lease
/// (<see cref="EtcdLease"/>) against a real etcd, through the real <see cref="SequencerActor"/>.
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
        Assert.Equal(4, await new EtcdLog(etcd.Client, new EtcdLogOptions { Prefix = _prefix, NodeId = "r" }, [], new LogHealth(TimeProvider.System), TimeProvider.System,
            NullLogger.Instance).HeadAsync(default));
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

        var answer = await sequencer.Ask<object>(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, "t", 0, Deadline()), Wait);

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
        var zombieAnswer = await zombie.Ask<object>(new SequencerProtocol.Publish(1, [Command("t", "lost")], Deadline()), Wait);
        var positions = await second.PublishAsync(sequencer, "t", "b");

        Assert.IsType<SequencerProtocol.Rejected>(zombieAnswer);
        Assert.Equal([3L], positions);
        Assert.Equal(["a", "b"], (await ReadAsync(3)).Where(e => e.Kind == LogEntryKind.Publish).Select(e => Value(e.Message)));
    }

    [Fact]
    public async Task TheNextSequencer_RecoversTheTopicsAndIdempotencyKeys_FromTheSnapshotInEtcd()
    {
        var first = Node("n1", snapshotEvery: 1);
        var sequencer = await first.StartSequencerAsync();
        await first.CreateAsync(sequencer, "t");
        var keyed = await sequencer.Ask<SequencerProtocol.Committed>(new SequencerProtocol.Publish(1, [Command("t", "a", key: "k1")], Deadline()), Wait);
        await first.StopSequencerAsync(sequencer);

        var second = Node("n2");
        var next = await second.StartSequencerAsync();
        var retried = await next.Ask<SequencerProtocol.Committed>(new SequencerProtocol.Publish(2, [Command("t", "a", key: "k1")], Deadline()), Wait);
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

    private TestNode Node(string name, int snapshotEvery = 10_000)
    {
        var node = new TestNode(name, _prefix, etcd.Cluster.ClientUrlList, snapshotEvery, etcd.Client);
        _owned.Add(node);
        return node;
    }

    private async Task<long> HeadAsync() =>
        await new EtcdLog(etcd.Client, new EtcdLogOptions { Prefix = _prefix, NodeId = "r" }, [], new LogHealth(TimeProvider.System), TimeProvider.System, NullLogger.Instance)
            .HeadAsync(default);

    private async Task<List<LogEntry>> ReadAsync(int count)
    {
        await using var log = new EtcdLog(etcd.Client, new EtcdLogOptions { Prefix = _prefix, NodeId = "r" }, [], new LogHealth(TimeProvider.System), TimeProvider.System,
            NullLogger.Instance);
        using var timeout = new CancellationTokenSource(Wait);
        var entries = new List<LogEntry>();
        await foreach (var batch in log.ReadAsync(0, 0, timeout.Token))
        {
            entries.AddRange(batch.Entries);
            if (entries.Count >= count) break;
        }
        return entries;
    }

    private static string Value(byte[] message) => System.Text.Json.JsonDocument.Parse(message).RootElement.GetProperty("value").GetString()!;

    private static long Deadline() => DateTimeOffset.UtcNow.AddSeconds(10).ToUnixTimeMilliseconds();

    private static PublishCommand Command(string topic, string value, string? key = null) =>
        new(topic, MessageJson.EncodeBody(topic, value, [], DateTimeOffset.UtcNow), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Key: key);

    public void Dispose()
    {
        foreach (var owned in _owned) owned.Dispose();
    }

    /// <summary>One node's actor system with the etcd plugins (hocon/broker.hocon) and a replica journal of its own.</summary>
    private sealed class TestNode : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "repl-cluster-tests", Guid.NewGuid().ToString("N"));
        private readonly ReplJournal _replica;
        private readonly EtcdStore _store;
        private readonly ActorSystem _system;
        private readonly int _snapshotEvery;

        private readonly Repl.Actors.Cluster.Etcd.EtcdClient _etcd;

        public TestNode(string name, string prefix, string endpoints, int snapshotEvery, Repl.Actors.Cluster.Etcd.EtcdClient etcd)
        {
            _etcd = etcd;
            _snapshotEvery = snapshotEvery;
            _replica = ReplJournal.Open(new JournalOptions { DataDir = _dir });
            _store = new EtcdStore(new dotnet_etcd.EtcdClient(endpoints), prefix, TimeSpan.FromSeconds(5));
            var services = new ServiceCollection().AddSingleton(_replica).AddSingleton(_store).BuildServiceProvider();
            string hocon = Path.Combine(AppContext.BaseDirectory, "hocon");
            var config = ConfigurationFactory.ParseString($"""
                    akka.actor.provider = local
                    akka.loglevel = WARNING
                    akka.actor.serialize-messages = on
                    akka.actor.serialize-creators = off
                    akka.persistence.journal.repl-etcd.replay-wait = 2s
                    repl.sequencer-lease.owner = {name}
                    """)
                .WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(hocon, "broker.hocon"))))
                .WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(hocon, "repl.hocon"))));
            _system = ActorSystem.Create(name, BootstrapSetup.Create().WithConfig(config).And(DependencyResolverSetup.Create(services)));
            Name = name;
        }

        public string Name { get; }

        private EtcdLease? _lease;

        public EtcdLease Lease() =>
            _lease ??= (EtcdLease)LeaseProvider.Get(_system).GetLease("repl-sequencer", "repl.sequencer-lease", Name);

        /// <summary>What etcd does when the lease's TTL runs out: the lease and its key go. The node is not told.</summary>
        public async Task LoseLeaseInEtcdAsync()
        {
            long id = long.Parse(_store.Fence!.Token.ToStringUtf8().Split('#')[1], System.Globalization.NumberStyles.HexNumber);
            await _store.Client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = id });
        }

        /// <summary>Starts a sequencer here, once the replica has what etcd holds (the node's log reader does that from the watch).</summary>
        public async Task<IActorRef> StartSequencerAsync(bool acquireLease = true)
        {
            await using (var log = new EtcdLog(_etcd, new EtcdLogOptions { Prefix = _store.Prefix, NodeId = Name }, [], new LogHealth(TimeProvider.System), TimeProvider.System,
                NullLogger.Instance))
            {
                long head = await log.HeadAsync(default);
                using var timeout = new CancellationTokenSource(Wait);
                if (head > _replica.LastPosition)
                {
                    await foreach (var batch in log.ReadAsync(_replica.LastPosition, _replica.ReplicaRevision, timeout.Token))
                    {
                        _replica.Write(batch.Entries, batch.Entries[^1].Position, batch.Revision);
                        if (_replica.LastPosition >= head) break;
                    }
                }
            }
            if (acquireLease) Assert.True(await Lease().Acquire());
            var settings = new SequencerProtocol.Settings(4096, _snapshotEvery, null);
            var sequencer = _system.ActorOf(SequencerActor.Props(settings, TimeProvider.System));
            return sequencer;
        }

        public async Task StopSequencerAsync(IActorRef sequencer)
        {
            await sequencer.GracefulStop(Wait, SequencerProtocol.Drain.Instance);
            await Lease().Release();
        }

        public async Task<long> CreateAsync(IActorRef sequencer, string topic) =>
            (await sequencer.Ask<SequencerProtocol.TopicChanged>(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, topic, 0, Deadline()), Wait)).Position;

        public async Task<long[]> PublishAsync(IActorRef sequencer, string topic, params string[] values) =>
            (await sequencer.Ask<SequencerProtocol.Committed>(new SequencerProtocol.Publish(1, values.Select(v => Command(topic, v)).ToArray(), Deadline()), Wait)).Positions;

        public void Dispose()
        {
            _system.Terminate().Wait(Wait);
            _store.Client.Dispose();
            _replica.Dispose();
            try
            {
                Directory.Delete(_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
