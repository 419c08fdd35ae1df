using Akka.Actor;
using Akka.Configuration;
using Akka.Coordination;
using Akka.DependencyInjection;
using Etcdserverpb;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Persistence;
using Repl.Actors.Sequencer;
using Repl.Actors.Storage;
using ReplJournal = Repl.Actors.Storage.Journal;

namespace Repl.Cluster.Tests.Infrastructure;

/// <summary>One node's actor system with the etcd plugins (hocon/broker.hocon) and a replica journal of its own.</summary>
public sealed class SequencerNode : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "repl-cluster-tests", Guid.NewGuid().ToString("N"));
    private readonly ReplJournal _replica;
    private readonly EtcdStore _store;
    private readonly ActorSystem _system;
    private readonly int _snapshotEvery;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <param name="requestTimeout">Deadline of every etcd call (<c>Cluster:RequestTimeout</c>); 5 s by default.</param>
    public SequencerNode(string name, string prefix, string endpoints, int snapshotEvery = 10_000, TimeSpan? requestTimeout = null)
    {
        _snapshotEvery = snapshotEvery;
        _replica = ReplJournal.Open(new JournalOptions { DataDir = _dir });
        _store = new EtcdStore(new EtcdConnection(endpoints, requestTimeout ?? TimeSpan.FromSeconds(5)), prefix);
        var services = new ServiceCollection().AddSingleton(_replica).AddSingleton(_store).BuildServiceProvider();
        string hocon = Path.Combine(AppContext.BaseDirectory, "hocon");
        var config = ConfigurationFactory.ParseString("""
                akka.actor.provider = local
                akka.loglevel = WARNING
                # Off: with it on, a failed journal write's internal message (it carries the exception) cannot be
                # serialized and is dropped, and the sequencer never hears its write failed. The specs in
                # Repl.Actors.Tests check that Repl's messages serialize.
                akka.actor.serialize-messages = off
                akka.persistence.journal.repl-etcd.replay-wait = 5s
                """)
            .WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(hocon, "broker.hocon"))))
            .WithFallback(ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(hocon, "repl.hocon"))));
        _system = ActorSystem.Create(name, BootstrapSetup.Create().WithConfig(config).And(DependencyResolverSetup.Create(services)));
        Name = name;
        _reading = FollowAsync();
    }

    public string Name { get; }

    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reading;

    /// <summary>What the node's log reader does for the replica: writes every batch the watch delivers, with its revision.</summary>
    private async Task FollowAsync()
    {
        await using var log = new EtcdLog(_store.Etcd, new EtcdLogOptions { Prefix = _store.Prefix, NodeId = Name, WatchRetryDelay = TimeSpan.FromMilliseconds(100) }, [],
            new LogHealth(TimeProvider.System), TimeProvider.System, NullLogger.Instance);
        try
        {
            await foreach (var batch in log.ReadAsync(_replica.LastPosition, _replica.ReplicaRevision, _stop.Token))
            {
                _replica.Write(batch.Entries, batch.Entries[^1].Position, batch.Revision);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private EtcdCoordinationLease? _lease;

    public EtcdCoordinationLease Lease() =>
        _lease ??= (EtcdCoordinationLease)LeaseProvider.Get(_system).GetLease("repl-sequencer", "repl.sequencer-lease", Name);

    /// <summary>What etcd does when the lease's TTL runs out: the lease and its key go. The node is not told.</summary>
    public async Task LoseLeaseInEtcdAsync()
    {
        long id = long.Parse(_store.Fence!.Token.ToStringUtf8().Split('#')[1], System.Globalization.NumberStyles.HexNumber);
        await _store.Etcd.Client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = id });
    }

    /// <summary>Starts a sequencer here, once the replica has what etcd holds.</summary>
    public async Task<IActorRef> StartSequencerAsync(bool acquireLease = true)
    {
        long head = await HeadAsync(_store.Etcd, _store.Prefix);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (_replica.LastPosition < head)
        {
            Assert.True(waited.Elapsed < Wait, $"the replica did not catch up with etcd's head ({_replica.LastPosition} < {head})");
            await Task.Delay(20);
        }
        if (acquireLease) Assert.True(await Lease().Acquire());
        var settings = new SequencerProtocol.Settings(4096, _snapshotEvery, null);
        return _system.ActorOf(SequencerActor.SupervisedProps(settings, TimeProvider.System));
    }

    public async Task StopSequencerAsync(IActorRef sequencer)
    {
        await sequencer.GracefulStop(Wait, SequencerProtocol.Drain.Instance);
        await Lease().Release();
    }

    public async Task<long> CreateAsync(IActorRef sequencer, string topic) =>
        (await sequencer.Ask<SequencerProtocol.TopicChanged>(new SequencerProtocol.ChangeTopic(LogEntryKind.CreateTopic, topic, 0, Deadline()), Wait)).Position;

    public async Task<long> DeleteAsync(IActorRef sequencer, string topic) =>
        (await sequencer.Ask<SequencerProtocol.TopicChanged>(new SequencerProtocol.ChangeTopic(LogEntryKind.DeleteTopic, topic, 0, Deadline()), Wait)).Position;

    /// <summary>Publishes one message with an idempotency key, as a client would: again after a 503 or no answer, until it is committed.</summary>
    public static async Task<long> PublishUntilCommittedAsync(IActorRef sequencer, string topic, string value, string key, TimeSpan within)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var answer = await sequencer.Ask<object>(new SequencerProtocol.Publish(1, [LogCommands.Publish(topic, value, key)], Deadline()), TimeSpan.FromSeconds(3));
                if (answer is SequencerProtocol.Committed committed) return committed.Positions[0];
            }
            catch (AskTimeoutException)
            {
            }
            Assert.True(waited.Elapsed < within, $"'{value}' was not committed within {within.TotalSeconds} s");
            await Task.Delay(200);
        }
    }

    public async Task<long[]> PublishAsync(IActorRef sequencer, string topic, params string[] values) =>
        (await sequencer.Ask<SequencerProtocol.Committed>(new SequencerProtocol.Publish(1, values.Select(v => LogCommands.Publish(topic, v)).ToArray(), Deadline()), Wait)).Positions;

    public static long Deadline() => DateTimeOffset.UtcNow.AddSeconds(10).ToUnixTimeMilliseconds();

    /// <summary>The log's head position in etcd.</summary>
    public static async Task<long> HeadAsync(EtcdConnection etcd, string prefix)
    {
        await using var log = new EtcdLog(etcd, new EtcdLogOptions { Prefix = prefix, NodeId = "reader" }, [], new LogHealth(TimeProvider.System), TimeProvider.System,
            NullLogger.Instance);
        return await log.HeadAsync(default);
    }

    /// <summary>The log's first <paramref name="count"/> entries as a node's watch reads them.</summary>
    internal static async Task<List<LogEntry>> ReadAsync(EtcdConnection etcd, string prefix, int count)
    {
        await using var log = new EtcdLog(etcd, new EtcdLogOptions { Prefix = prefix, NodeId = "reader" }, [], new LogHealth(TimeProvider.System), TimeProvider.System,
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

    /// <summary>The log's batches as etcd keeps them, one per transaction (a watch may hand several in one response).</summary>
    internal static async Task<List<List<LogEntry>>> ReadTransactionsAsync(EtcdConnection etcd, string prefix)
    {
        var key = EtcdConnection.Key(EtcdLog.LogKey(prefix));
        var transactions = new List<List<LogEntry>>();
        var head = (await etcd.Client.GetAsync(new RangeRequest { Key = key })).Kvs.SingleOrDefault();
        for (long revision = head?.ModRevision ?? 0; head is not null && revision >= head.CreateRevision;)
        {
            var version = (await etcd.Client.GetAsync(new RangeRequest { Key = key, Revision = revision })).Kvs.Single();
            var entries = new List<LogEntry>();
            LogBatchCodec.Decode(version.Value.Span, version.ModRevision, 0, entries);
            transactions.Insert(0, entries);
            revision = version.ModRevision - 1;
        }
        return transactions;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _reading.Wait(Wait);
        _system.Terminate().Wait(Wait);
        _store.Etcd.Dispose();
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
