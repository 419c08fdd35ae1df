using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Options;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Reader;
using Repl.Actors.Sequencer;
using Repl.Actors.Sharding;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
using Repl.Host.Cluster;
using Repl.Host.Hooks;

namespace Repl.Host.Node;

/// <summary>
/// The node's start and stop, in one place: it waits for the engine's actors, for this node to be an Up member of its
/// cluster (standalone: it joined itself) and, in cluster mode, for its membership in etcd and the log's feed; then it
/// makes sure the initial topics exist. Each step's end is logged as <c>Node start: &lt;step&gt; at N s</c>
/// (docs/cluster.md, "Cluster start", and bench/cluster-start.sh read those lines).
/// </summary>
/// <remarks>
/// <para>The actors themselves run in the actor system that Akka.Hosting starts before this service (see
/// <see cref="ReplHost"/>); what runs periodically runs on their timers (the log reader's hub sweep, the retention
/// owner), and in cluster mode in <see cref="ClusterMembership"/>.</para>
/// <para>Shutdown drains: readiness goes off when the host starts stopping; Kestrel lets in-flight publishes finish
/// (the actor system still runs); streams end with <c>event: unavailable</c>; this service stops the feed and leaves
/// etcd's membership; then the actor system leaves its cluster, and the sequencer singleton commits what it holds
/// before it stops.</para>
/// </remarks>
internal sealed class NodeStart(ReplNode node, ActorSystem system, ActorRegistry actors, TopicRegistry registry, Journal journal, IOptions<NodeOptions> nodeOptions,
    IOptions<TopicsOptions> topics, TimeProvider time, ILogger<NodeStart> logger,
    ClusterMembership? membership = null, ClusterLogFeed? feed = null, EtcdConnection? etcd = null, HookEvents? events = null) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // A start that waits long says on what, every 10 s (a node that is not ready otherwise shows nothing at Warning),
        // and each step's end at Information, in seconds since the process started: the timeline of a slow start.
        string step = "the engine's actors";
        var started = time.GetTimestamp();
        using var watchdog = new Timer(_ => logger.LogWarning("Node start has waited {Seconds:0} s for {Step} (actors registered: batcher {Batcher}, topics {Topics}, log reader {Reader})",
            time.GetElapsedTime(started).TotalSeconds, Volatile.Read(ref step), actors.TryGet<Batcher.Key>(out IActorRef? _), actors.TryGet<TopicProtocol.Key>(out IActorRef? _),
            actors.TryGet<LogReaderProtocol.Key>(out IActorRef? _)), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        void Next(string next)
        {
            logger.LogInformation("Node start: {Step} at {Seconds:0.0} s", Volatile.Read(ref step), SinceProcessStart());
            Volatile.Write(ref step, next);
        }
        await RegisteredAsync<Batcher.Key>(cancellationToken);
        await RegisteredAsync<TopicProtocol.Key>(cancellationToken);
        await RegisteredAsync<LogReaderProtocol.Key>(cancellationToken);
        Next("this node to be an Up member of its cluster");
        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(up.SetResult);
        await up.Task.WaitAsync(cancellationToken);

        if (membership is not null)
        {
            Next("etcd (membership)");
            await EtcdConnection.UntilAnswersAsync(() => membership.StartAsync(cancellationToken), logger, cancellationToken);
            Next("the log's feed (the journal against etcd's head, the epoch)");
            await feed!.Started.WaitAsync(cancellationToken);
        }
        Next("the initial topics to be created through the sequencer and applied here");
        foreach (var name in membership is not null ? [ReplNode.CanaryTopic] : topics.Value.Initial.Append(ReplNode.CanaryTopic))
        {
            if (registry.TryGet(name, out _)) continue;
            long position = await EtcdConnection.UntilAnswersAsync(() => node.CreateTopicAsync(name), logger, cancellationToken);
            // A topic made here is made as POST /topics makes one, and the events hook is told the same (the sender
            // starts beside this service; the event waits in its queue until then). 0: it existed after all.
            if (position > 0 && !TopicName.IsInternal(name)) events?.Topic("topic.created", name, position);
        }
        // What the start cost, for bench/ready.sh's figures: the CPU, and how much of it was the JIT (code without a
        // precompiled version; bench/README.md, "Start-up on one core").
        logger.LogInformation("Repl node {Node} started ({Mode}) at {Address} in {Seconds:0.0} s ({Cpu:0.0} CPU s, {Methods} methods JIT-compiled in {Jit:0.0} s); journal at position {Position}, {Topics} topics",
            nodeOptions.Value.Id, membership is null ? "standalone" : "cluster", Akka.Cluster.Cluster.Get(system).SelfAddress, SinceProcessStart(),
            Environment.CpuUsage.TotalTime.TotalSeconds, System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime().TotalSeconds,
            journal.LastPosition, registry.All.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // The watch first: it reads through the connection disposed below.
        if (feed is not null) await feed.DisposeAsync();
        if (membership is not null) await membership.DisposeAsync();
        etcd?.Dispose();
    }

    private static double SinceProcessStart() => (DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime).TotalSeconds;

    /// <summary>
    /// Waits until Akka.Hosting has started the actor registered under <typeparamref name="TKey"/>. Akka.Hosting's own
    /// <c>ActorRegistry.GetAsync</c> (1.5.74) looks, then adds its waiter: a registration that lands in between is
    /// never announced to it, and the wait lasts forever (cluster nodes start beside Akka.Hosting, see
    /// <see cref="ReplHost"/>; CI saw a broker wait 1,000 s with all three actors registered). Looking again once the
    /// waiter is in place closes that window.
    /// </summary>
    private async Task RegisteredAsync<TKey>(CancellationToken cancellationToken)
    {
        var waiting = actors.GetAsync<TKey>(cancellationToken);
        if (!actors.TryGet<TKey>(out _)) await waiting;
    }
}
