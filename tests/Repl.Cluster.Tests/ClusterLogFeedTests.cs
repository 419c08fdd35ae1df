using Akka.Actor;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Reader;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
using Repl.Cluster.Tests.Infrastructure;
using ReplJournal = Repl.Actors.Storage.Journal;

namespace Repl.Cluster.Tests;

/// <summary>
/// The feed from etcd's watch into a node's log reader (<see cref="ClusterLogFeed"/>), against a real etcd, with a real
/// reader behind a gate the test holds shut.
/// </summary>
[Collection(SingleNodeEtcdCollection.Name)]
public sealed class ClusterLogFeedTests(SingleNodeEtcdFixture etcd) : IDisposable
{
    private const int Window = 200;
    private const int BatchSize = 50;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly string _prefix = SingleNodeEtcdFixture.UniquePrefix() + "repl";
    private readonly string _dir = TempDir.Create();
    private readonly ActorSystem _system = ActorSystem.Create("feed", "akka.loglevel = WARNING");

    [Fact]
    public async Task ReaderThatDoesNotApply_IsHandedNoMoreThanAboutTwiceTheWindow_AndEverythingOnceItApplies()
    {
        // A log ten times the window, written before the node starts: the node catches up.
        using (var writer = new SequencerNode("writer", _prefix, etcd.Cluster.ClientUrlList))
        {
            var sequencer = await writer.StartSequencerAsync();
            await writer.CreateAsync(sequencer, "t");
            for (int i = 0; i < 2 * Window / BatchSize * 5; i++) await writer.PublishAsync(sequencer, "t", [.. Enumerable.Range(0, BatchSize).Select(n => $"m{i}.{n}")]);
        }
        long head = await SequencerNode.HeadAsync(etcd.Client, _prefix);
        using var journal = ReplJournal.Open(new JournalOptions { DataDir = _dir });
        var topics = new TopicsOptions();
        var registry = TopicRegistry.Load(journal, topics);
        var reader = _system.ActorOf(LogReader.Props(registry, topics, journal, replica: true));
        var gate = new Gate(registry, Window);
        var gateActor = _system.ActorOf(Props.Create(() => new GateActor(gate, reader)));
        await using var log = new EtcdLog(etcd.Client, new EtcdLogOptions { Prefix = _prefix, NodeId = "n1" }, [], new LogHealth(TimeProvider.System), TimeProvider.System,
            NullLogger.Instance);
        await using var feed = new ClusterLogFeed(log, etcd.Client, journal, registry, _prefix, _dir, Window, TimeProvider.System, NullLogger.Instance);

        feed.Start(gateActor);
        await feed.Started.WaitAsync(Wait);
        // Held: nothing is applied. The feed hands over its window, then waits; an unbounded one would go on to the head,
        // which the half second lets it show.
        await gate.WindowReached.Task.WaitAsync(Wait);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        long heldAt = feed.FedPosition;
        Assert.Equal(0, registry.AppliedPosition);
        Assert.InRange(heldAt, Window, 2 * Window + BatchSize);

        gateActor.Tell(GateActor.Open.Instance);
        await registry.WaitAppliedAsync(head).WaitAsync(Wait);

        Assert.Equal(head, journal.LastPosition);
        Assert.InRange(gate.MostAhead, Window, 2 * Window + BatchSize);
    }

    public void Dispose()
    {
        _system.Terminate().Wait(Wait);
        TempDir.Delete(_dir);
    }

    /// <summary>What the gate saw: how far ahead of the reader's applied position the feed ever handed a batch.</summary>
    private sealed class Gate(TopicRegistry registry, int window)
    {
        private long _mostAhead;

        public TaskCompletionSource WindowReached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long MostAhead => Interlocked.Read(ref _mostAhead);

        public void Saw(LogReaderProtocol.Apply apply)
        {
            long ahead = apply.Entries[^1].Position - registry.AppliedPosition;
            if (ahead > _mostAhead) Interlocked.Exchange(ref _mostAhead, ahead);
            if (apply.Entries[^1].Position >= window) WindowReached.TrySetResult();
        }
    }

    /// <summary>Holds the batches the feed hands over until opened, then passes them, and every later one, to the reader.</summary>
    private sealed class GateActor : ReceiveActor
    {
        private readonly List<LogReaderProtocol.Apply> _held = [];

        public GateActor(Gate gate, IActorRef reader)
        {
            Receive<LogReaderProtocol.Apply>(apply =>
            {
                gate.Saw(apply);
                _held.Add(apply);
            });
            Receive<Open>(_ =>
            {
                foreach (var apply in _held) reader.Tell(apply);
                _held.Clear();
                Become(() => Receive<LogReaderProtocol.Apply>(apply =>
                {
                    gate.Saw(apply);
                    reader.Tell(apply);
                }));
            });
        }

        public sealed record Open
        {
            public static readonly Open Instance = new();
        }
    }
}
