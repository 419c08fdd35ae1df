using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.DependencyInjection;
using Akka.Hosting;
using Akka.Pattern;
using Microsoft.Extensions.DependencyInjection;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Reader;
using Repl.Actors.Sequencer;
using Repl.Actors.Sharding;
using Repl.Actors.Storage;
using Repl.Actors.Topics;

namespace Repl.Actors.Hosting;

/// <summary>
/// The engine's parts, one Akka.Hosting extension each, so the host's setup reads as the list of what runs.
/// </summary>
/// <remarks>
/// Order matters: the log reader exists before the writer that feeds it, the writer before the batcher and the topic
/// entities that send to it. Services (<see cref="Journal"/>, <see cref="TopicRegistry"/>, options, the
/// <see cref="TimeProvider"/>) come from the host's container.
/// </remarks>
public static class ReplEngineHosting
{
    /// <summary>The dispatcher of the log's path (sequencer, batcher, log reader): one thread, so acks never queue behind fan-out or HTTP work.</summary>
    public const string LogDispatcher = "repl.log-dispatcher";

    /// <summary>Standalone: the node's log reader (<see cref="LogReader"/>), fed by the sequencer.</summary>
    public static AkkaConfigurationBuilder WithReplLogReader(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
            registry.Register<LogReaderProtocol.Key>(system.ActorOf(LogReaderProps(resolver, replica: false, onRestart: null), "log-reader")));

    /// <summary>
    /// Cluster mode: the node's log reader, which writes etcd's local replica, fed by etcd's watch (the container's
    /// <see cref="ClusterLogFeed"/>, which starts with the actor system and never runs more than its window ahead of the
    /// reader). A reader that crashed has the feed open the watch again from its watermark. The host waits for
    /// <see cref="ClusterLogFeed.Started"/> and stops the feed; it never feeds the reader itself.
    /// </summary>
    public static AkkaConfigurationBuilder WithReplClusterLog(this AkkaConfigurationBuilder builder) =>
        builder.WithActors((system, registry, resolver) =>
        {
            var feed = resolver.GetService<ClusterLogFeed>();
            var reader = system.ActorOf(LogReaderProps(resolver, replica: true, feed.Restart), "log-reader");
            registry.Register<LogReaderProtocol.Key>(reader);
            feed.Start(reader);
        });

    private static Props LogReaderProps(IDependencyResolver resolver, bool replica, Action? onRestart) =>
        LogReader.Props(resolver.GetService<TopicRegistry>(), resolver.GetService<TopicsOptions>(), resolver.GetService<Journal>(), replica, onRestart,
            resolver.GetService<EngineTelemetry>()).WithDispatcher(LogDispatcher);

    /// <summary>
    /// The sequencer: a cluster singleton (role <c>broker</c>) under a backoff supervisor. Its termination message drains
    /// (<see cref="SequencerProtocol.Drain"/>), and also stops the supervisor.
    /// </summary>
    /// <param name="feedsReader">
    /// Standalone: the sequencer hands each committed batch to its node's log reader. In cluster mode every node's
    /// reader, the sequencer's included, follows etcd's watch instead.
    /// </param>
    /// <param name="lease">Cluster mode: the lease the singleton holds while it runs (<see cref="Etcd.EtcdLeaseOption.Sequencer"/>), which fences its writes.</param>
    public static AkkaConfigurationBuilder WithReplSequencer(this AkkaConfigurationBuilder builder, SequencerOptions options, bool feedsReader = true,
        Akka.Hosting.Coordination.LeaseOptionBase? lease = null) =>
        builder.WithSingleton<SequencerProtocol.Key>("sequencer", (system, registry, resolver) =>
            {
                var settings = new SequencerProtocol.Settings(options.MaxBatch, options.SnapshotEvery, feedsReader ? registry.Get<LogReaderProtocol.Key>() : null,
                    options.IdempotencyWindow, options.MaxIdempotencyKeys);
                return SequencerActor.SupervisedProps(settings, resolver.GetService<TimeProvider>(), resolver.GetService<EngineTelemetry>(), LogDispatcher);
            },
            new ClusterSingletonOptions
            {
                Role = "broker",
                TerminationMessage = SequencerProtocol.Drain.Instance,
                LeaseImplementation = lease,
                LeaseRetryInterval = lease is null ? null : TimeSpan.FromSeconds(1),
            },
            createProxyToo: true);

    /// <summary>The node's batcher (<see cref="Batcher"/>), in front of whichever writer the node has.</summary>
    public static AkkaConfigurationBuilder WithReplBatcher(this AkkaConfigurationBuilder builder, SequencerOptions options) =>
        builder.WithActors((system, registry, resolver) =>
        {
            var batcherOptions = new Batcher.Options(options.MaxBatch, MaxInFlight: Math.Max(1, options.MaxInFlight), Deadline: options.Deadline);
            var props = Batcher.Props(registry.Get<SequencerProtocol.Key>(), resolver.GetService<TopicRegistry>().Applied, batcherOptions, resolver.GetService<TimeProvider>(),
                resolver.GetService<PublishQueue>(), resolver.GetService<StreamBacklog>());
            registry.Register<Batcher.Key>(system.ActorOf(props.WithDispatcher(LogDispatcher), "batcher"));
        });

    /// <summary>Topics as sharded entities (role <c>broker</c>, distributed-data state store, remember-entities off).</summary>
    /// <param name="shards">About ten per broker.</param>
    /// <param name="events">How the entities tell presence events to watching nodes (default <see cref="PresenceProtocol.EventOptions.Default"/>).</param>
    public static AkkaConfigurationBuilder WithReplTopics(this AkkaConfigurationBuilder builder, int shards, TimeSpan passivateAfter, TimeSpan deadline,
        PresenceProtocol.EventOptions? events = null) =>
        builder.WithShardRegion<TopicProtocol.Key>("topics", (system, registry, resolver) =>
            {
                var sequencer = registry.Get<SequencerProtocol.Key>();
                var journal = resolver.GetService<Journal>();
                var topics = resolver.GetService<TopicRegistry>();
                var time = resolver.GetService<TimeProvider>();
                return name => TopicEntity.Props(name, sequencer, journal, topics, time, deadline, events);
            },
            new TopicMessageExtractor(shards),
            new ShardOptions
            {
                Role = "broker",
                StateStoreMode = StateStoreMode.DData,
                RememberEntities = false,
                PassivateIdleEntityAfter = passivateAfter,
            });

    /// <summary>
    /// The node's side of presence (<see cref="PresenceReporter"/>, <c>/user/presence</c>): tells each topic's entity the
    /// joins and leaves of this node's streams every <paramref name="flush"/>, and confirms each topic with clients to
    /// its entity four times per <paramref name="passivateAfter"/>, so that entity does not passivate. After
    /// <see cref="WithReplTopics"/>, whose region it sends to.
    /// </summary>
    public static AkkaConfigurationBuilder WithReplPresence(this AkkaConfigurationBuilder builder, TimeSpan flush, TimeSpan passivateAfter) =>
        builder.WithActors((system, registry, resolver) =>
        {
            var self = Akka.Cluster.Cluster.Get(system).SelfUniqueAddress;
            var origin = new PresenceProtocol.Origin(self.Address.ToString(), self.Uid);
            // Without passivation a heartbeat still repairs a lost delta, every 30 s.
            var options = new PresenceReporter.Options(flush, passivateAfter > TimeSpan.Zero ? passivateAfter / 4 : TimeSpan.FromSeconds(30));
            registry.Register<PresenceProtocol.ReporterKey>(
                system.ActorOf(PresenceReporter.Props(registry.Get<TopicProtocol.Key>(), origin, options, resolver.GetService<TopicRegistry>()),
                    PresenceProtocol.ReporterName));
        });

    /// <summary>
    /// The retention owner (<see cref="RetentionActor"/>): a cluster singleton (role <c>broker</c>; standalone, the node
    /// is its own cluster) that every <paramref name="interval"/> tells the topics over their limits to apply retention.
    /// After <see cref="WithReplTopics"/>, whose region it sends to.
    /// </summary>
    /// <param name="deadline">The sequencer's deadline: an entity's answer is waited for a second longer.</param>
    public static AkkaConfigurationBuilder WithReplRetention(this AkkaConfigurationBuilder builder, TimeSpan interval, TimeSpan deadline) =>
        builder.WithSingleton<RetentionProtocol.Key>("retention", (system, registry, resolver) =>
                RetentionActor.Props(resolver.GetService<Journal>(), registry.Get<TopicProtocol.Key>(), resolver.GetService<TimeProvider>(), interval,
                    deadline + TimeSpan.FromSeconds(1)),
            new ClusterSingletonOptions { Role = "broker" },
            createProxyToo: true);
}
