using Akka.Actor;
using Akka.Hosting;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Reader;
using Repl.Actors.Sequencer;
using Repl.Actors.Sharding;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
using Repl.Host.Cluster;
using Repl.Sse;

namespace Repl.Host.Node;

/// <summary>
/// The broker on this node as the HTTP side sees it: publishes go to the node's batcher, topic changes to the topics'
/// sharded entities, reads to the journal and the topic hubs. The actors themselves run in the actor system that
/// Akka.Hosting starts before this service (see <see cref="ReplHost"/>).
/// </summary>
/// <remarks>
/// <para>Start: waits until this node is an Up member of its cluster (standalone: it joined itself), then makes sure the
/// initial topics exist. Cluster mode (<c>Cluster:Etcd</c>) also starts the membership in etcd
/// (<see cref="ClusterMembership"/>) and waits for the log's feed (<see cref="ClusterLogFeed"/>, which the engine starts
/// and runs) to have checked the journal against etcd and taken the epoch.</para>
/// <para>Shutdown drains: readiness goes off when the host starts stopping; Kestrel lets in-flight publishes finish
/// (the actor system still runs); streams end with <c>event: unavailable</c>; then the actor system leaves its
/// cluster, and the sequencer singleton commits what it holds before it stops.</para>
/// </remarks>
public sealed class ReplNode : IHostedService
{
    public const string CanaryTopic = "$canary";

    private readonly TopicsOptions _topicsOptions;
    private readonly ActorSystem _system;
    private readonly ActorRegistry _actors;
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly PublishQueue _publishes;
    private readonly TimeSpan _askTimeout;
    private readonly ClusterLogFeed? _feed;
    private IActorRef _topics = ActorRefs.Nobody;

    public ReplNode(IOptions<NodeOptions> node, IOptions<TopicsOptions> topics, IOptions<SequencerOptions> sequencer,
        SseCounters streams, IOptions<ClusterOptions> cluster, Journal journalStore, TopicRegistry registry, ActorSystem system, ActorRegistry actors,
        IHostApplicationLifetime lifetime, PublishQueue publishes, StreamBacklog backlog, IServiceProvider services, ILoggerFactory loggers, TimeProvider time)
    {
        _publishes = publishes;
        Backlog = backlog;
        ClusterOptions = cluster.Value;
        Streams = streams;
        Options = node.Value;
        _topicsOptions = topics.Value;
        _askTimeout = sequencer.Value.Deadline + TimeSpan.FromSeconds(1);
        Journal = journalStore;
        Registry = registry;
        _system = system;
        _actors = actors;
        _loggers = loggers;
        _time = time;
        _lifetime = lifetime;
        if (IsCluster)
        {
            EtcdLog = services.GetRequiredService<EtcdLog>();
            Etcd = services.GetRequiredService<EtcdConnection>();
            _feed = services.GetRequiredService<ClusterLogFeed>();
        }
    }

    public NodeOptions Options { get; }

    public ClusterOptions ClusterOptions { get; }

    /// <summary><c>standalone</c> or <c>cluster</c>.</summary>
    public string Mode => IsCluster ? "cluster" : "standalone";

    public bool IsCluster => !string.IsNullOrWhiteSpace(ClusterOptions.Etcd);

    /// <summary>Cluster mode: the connection to etcd.</summary>
    public EtcdConnection? Etcd { get; }

    /// <summary>Cluster mode: the etcd log the node writes to and reads from.</summary>
    public EtcdLog? EtcdLog { get; }

    /// <summary>Cluster mode: membership, progress and the etcd probe.</summary>
    public ClusterMembership? Membership { get; private set; }

    /// <summary>Cluster mode: fires when streams should end and retry on another node (etcd unreachable for a while); a new token after recovery.</summary>
    public CancellationToken StreamsUnavailable => Membership?.StreamsUnavailable ?? CancellationToken.None;

    /// <summary>True once the host has begun to stop: readiness is off.</summary>
    public bool Stopping => _lifetime.ApplicationStopping.IsCancellationRequested;

    public TopicRegistry Registry { get; }

    /// <summary>How far behind the applied log the node's streams run (the batcher holds new batches beyond its limit).</summary>
    public StreamBacklog Backlog { get; }

    /// <summary>The node's SSE streams' counters (the streams themselves are graphs, see <see cref="SseStreams"/>).</summary>
    public SseCounters Streams { get; }

    /// <summary>The node's journal: the log itself standalone, etcd's local replica in cluster mode. Read-only here.</summary>
    public Journal Journal { get; }

    /// <summary>
    /// Publishes as one batch; completes with each command's position (0 where the topic did not exist) once the batch
    /// is committed and applied on this node.
    /// </summary>
    /// <exception cref="LogUnavailableException">Nothing of it was committed.</exception>
    /// <exception cref="OutcomeUnknownException">Its write's answer was lost: all of it may have been committed, or none.</exception>
    public Task<long[]> PublishAsync(PublishCommand[] commands) => _publishes.PublishAsync(commands);

    /// <summary>Creates a topic through its entity; returns the position of the creation once applied here, 0 when it exists.</summary>
    public Task<long> CreateTopicAsync(string name) => ChangeTopicAsync(new TopicProtocol.Create(name));

    /// <summary>Deletes a topic through its entity; returns the position of the deletion once applied here, 0 when there was none.</summary>
    public Task<long> DeleteTopicAsync(string name) => ChangeTopicAsync(new TopicProtocol.Delete(name));

    /// <summary>
    /// Whether <paramref name="position"/> is past the head of the log: never issued by it. Standalone the journal's last
    /// position is the head; in cluster mode a position past this node's watermark may just not be applied here yet,
    /// so etcd's head decides (when etcd cannot be asked, the position is given the benefit of the doubt).
    /// </summary>
    public async Task<bool> IsAheadOfLogAsync(long position, CancellationToken cancellationToken)
    {
        if (position <= Registry.AppliedPosition) return false;
        if (!IsCluster) return position > Journal.LastPosition;
        try
        {
            return position > await EtcdLog!.HeadAsync(cancellationToken);
        }
        catch (RpcException)
        {
            return false;
        }
    }

    /// <summary>
    /// Runs a retention round now, wherever the retention owner runs (it runs one every
    /// <see cref="NodeOptions.RetentionInterval"/>): the topics over their limits are trimmed, and applied here, when it completes.
    /// </summary>
    public async Task ApplyRetentionAsync()
    {
        var ran = await _actors.Get<RetentionProtocol.Key>().Ask<RetentionProtocol.Ran>(RetentionProtocol.Run.Instance, _askTimeout * 2);
        await Registry.WaitAppliedAsync(ran.Position);
    }

    private async Task<long> ChangeTopicAsync(TopicProtocol.ICommand command)
    {
        if (_topics.IsNobody()) throw new LogUnavailableException("this node is still starting");
        object answer;
        try
        {
            answer = await _topics.Ask(command, _askTimeout);
        }
        catch (AskTimeoutException)
        {
            // It may still be queued at the sequencer, or its write's answer was lost: it may commit yet.
            throw new OutcomeUnknownException($"the topic change was not answered within {_askTimeout.TotalSeconds:0} s, so its outcome is unknown (it may have been committed)"
                + TopicChangeRetryAdvice);
        }
        switch (answer)
        {
            case SequencerProtocol.TopicChanged changed:
                await Registry.WaitAppliedAsync(changed.Position);
                return changed.Position;
            case SequencerProtocol.Rejected rejected:
                throw new LogUnavailableException(rejected.Reason);
            case SequencerProtocol.OutcomeUnknown unknown:
                throw new OutcomeUnknownException(unknown.Reason + TopicChangeRetryAdvice);
            default:
                throw new InvalidOperationException($"unexpected answer {answer}");
        }
    }

    /// <summary>What a caller whose topic change has an unknown outcome can do, said with the error.</summary>
    private const string TopicChangeRetryAdvice = ". Retrying is safe: a create that did commit answers 409, a delete 404";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var logger = _loggers.CreateLogger<ReplNode>();
        // A start that waits long says on what, every 10 s (a node that is not ready otherwise shows nothing at Warning),
        // and each step's end at Information, in seconds since the process started: the timeline of a slow start.
        string step = "the engine's actors";
        var started = _time.GetTimestamp();
        using var watchdog = new Timer(_ => logger.LogWarning("Node start has waited {Seconds:0} s for {Step} (actors registered: batcher {Batcher}, topics {Topics}, log reader {Reader})",
            _time.GetElapsedTime(started).TotalSeconds, Volatile.Read(ref step), _actors.TryGet<Batcher.Key>(out IActorRef? _), _actors.TryGet<TopicProtocol.Key>(out IActorRef? _),
            _actors.TryGet<LogReaderProtocol.Key>(out IActorRef? _)), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        void Next(string next)
        {
            logger.LogInformation("Node start: {Step} at {Seconds:0.0} s", Volatile.Read(ref step), SinceProcessStart());
            Volatile.Write(ref step, next);
        }
        await RegisteredAsync<Batcher.Key>(cancellationToken);
        _topics = await RegisteredAsync<TopicProtocol.Key>(cancellationToken);
        await RegisteredAsync<LogReaderProtocol.Key>(cancellationToken);
        Next("this node to be an Up member of its cluster");
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(_system).RegisterOnMemberUp(up.SetResult);
        await up.Task.WaitAsync(cancellationToken);

        if (IsCluster)
        {
            Next("etcd (membership)");
            Membership = new ClusterMembership(Etcd!, ClusterOptions, Options.Id, Registry, EtcdLog!.Health, _time, _loggers.CreateLogger<ClusterMembership>());
            await EtcdConnection.UntilAnswersAsync(() => Membership.StartAsync(cancellationToken), logger, cancellationToken);
            Next("the log's feed (the journal against etcd's head, the epoch)");
            await _feed!.Started.WaitAsync(cancellationToken);
        }
        Next("the initial topics to be created through the sequencer and applied here");
        foreach (var name in IsCluster ? [CanaryTopic] : _topicsOptions.Initial.Append(CanaryTopic))
        {
            if (Registry.TryGet(name, out _)) continue;
            await EtcdConnection.UntilAnswersAsync(() => CreateTopicAsync(name), logger, cancellationToken);
        }

        logger.LogInformation("Repl node {Node} started ({Mode}) at {Address} in {Seconds:0.0} s; journal at position {Position}, {Topics} topics",
            Options.Id, Mode, Akka.Cluster.Cluster.Get(_system).SelfAddress, SinceProcessStart(), Journal.LastPosition, Registry.All.Count);
    }

    private static double SinceProcessStart() => (DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime).TotalSeconds;

    /// <summary>
    /// The actor registered under <typeparamref name="TKey"/>, once Akka.Hosting has started it. Akka.Hosting's own
    /// <c>ActorRegistry.GetAsync</c> (1.5.74) looks, then adds its waiter: a registration that lands in between is
    /// never announced to it, and the wait lasts forever (cluster nodes start beside Akka.Hosting, see
    /// <see cref="ReplHost"/>; CI saw a broker wait 1,000 s with all three actors registered). Looking again once the
    /// waiter is in place closes that window.
    /// </summary>
    private async Task<IActorRef> RegisteredAsync<TKey>(CancellationToken cancellationToken)
    {
        var waiting = _actors.GetAsync<TKey>(cancellationToken);
        return _actors.TryGet<TKey>(out var actor) ? actor : await waiting;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // The watch first: it reads through the connection disposed below.
        if (_feed is not null) await _feed.DisposeAsync();
        if (Membership is not null) await Membership.DisposeAsync();
        Etcd?.Dispose();
    }
}
