using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Microsoft.Extensions.Options;
using Repl.Actors.Etcd;
using Repl.Actors.Hosting;
using Repl.Actors.Log;
using Repl.Actors.Persistence;
using Repl.Actors.Sequencer;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
using Repl.Host.Cluster;
using Repl.Sse;
using HostingClusterOptions = Akka.Cluster.Hosting.ClusterOptions;
using ReplClusterOptions = Repl.Host.Cluster.ClusterOptions;

namespace Repl.Host.Node;

/// <summary>The node's actor system (<c>repl</c>), through Akka.Hosting: its HOCON, remoting, cluster and the engine's actors.</summary>
internal static class ReplActorSystem
{
    /// <summary>Topic shards: about ten per broker.</summary>
    internal const int TopicShards = 10;

    /// <summary>How often a node tells the topics' entities its streams' joins and leaves: a join or a leave is visible cluster-wide within about this (issue 25 asks for 2 s).</summary>
    internal static readonly TimeSpan PresenceFlush = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Adds the actor system and the services its actors take from the container: the journal, the topic registry (both
    /// opened before the actors start, so the log reader and the sequencer begin where the journal ends) and, in cluster
    /// mode, the etcd client, the log and its feed into the reader.
    /// </summary>
    public static IServiceCollection AddReplActorSystem(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(provider => Journal.Open(provider.GetRequiredService<IOptions<JournalOptions>>().Value));
        services.AddSingleton(provider => provider.GetRequiredService<IOptions<TopicsOptions>>().Value);
        services.AddSingleton(provider => TopicRegistry.Load(provider.GetRequiredService<Journal>(), provider.GetRequiredService<TopicsOptions>()));
        services.AddHealthChecks();
        services.AddSingleton<EngineTelemetry>();
        services.AddSingleton<Repl.Actors.Sequencer.PublishQueue>();
        services.AddSingleton<RefusedUsers>();
        // Publishes wait while the streams run a quarter of a topic's ring behind (see StreamBacklog).
        services.AddSingleton(provider => new Repl.Actors.Sequencer.StreamBacklog(Math.Max(1, provider.GetRequiredService<TopicsOptions>().MemoryWindow / 4)));

        var cluster = configuration.GetSection("Cluster").Get<ReplClusterOptions>() ?? new ReplClusterOptions();
        var sequencer = configuration.GetSection("Sequencer").Get<SequencerOptions>() ?? new SequencerOptions();
        var topics = configuration.GetSection("Topics").Get<TopicsOptions>() ?? new TopicsOptions();
        var nodeOptions = configuration.GetSection("Node").Get<NodeOptions>() ?? new NodeOptions();
        SettingsException.ThrowUnlessPositive("Node:RetentionInterval", nodeOptions.RetentionInterval, "how often retention runs");
        if (topics.PresenceLeaveGrace < TimeSpan.Zero)
            throw new SettingsException($"Topics:PresenceLeaveGrace is {topics.PresenceLeaveGrace}: it must be zero or a positive time span (hh:mm:ss), how long a leave is held before streams are told");
        if (topics.PresenceEventsUpTo is < 0 or > TopicsOptions.MaxPresenceEventsUpTo)
            throw new SettingsException($"Topics:PresenceEventsUpTo is {topics.PresenceEventsUpTo}: it must be from 0 to {TopicsOptions.MaxPresenceEventsUpTo} (above it, streams get counts instead of each join and leave)");
        bool isCluster = cluster.IsCluster;
        if (isCluster) cluster.Validate();
        var akkaCluster = AkkaClusterSettings.From(configuration, isCluster);
        if (isCluster)
        {
            services.AddSingleton(provider => new EtcdConnection(cluster.Etcd!, cluster.RequestTimeout, provider.GetRequiredService<TimeProvider>()));
            services.AddSingleton(provider =>
            {
                var time = provider.GetRequiredService<TimeProvider>();
                var node = provider.GetRequiredService<IOptions<NodeOptions>>().Value;
                return new EtcdLog(provider.GetRequiredService<EtcdConnection>(),
                    new EtcdLogOptions { Prefix = cluster.Prefix, NodeId = node.Id },
                    provider.GetRequiredService<Journal>().LoadTopics(), new LogHealth(time), time, provider.GetRequiredService<ILogger<EtcdLog>>());
            });
            services.AddSingleton(provider => new ClusterLogFeed(provider.GetRequiredService<EtcdLog>(), provider.GetRequiredService<EtcdConnection>(),
                provider.GetRequiredService<Journal>(), provider.GetRequiredService<TopicRegistry>(), cluster.Prefix,
                provider.GetRequiredService<IOptions<JournalOptions>>().Value.DataDir, cluster.FeedWindow, provider.GetRequiredService<TimeProvider>(),
                provider.GetRequiredService<ILogger<ClusterLogFeed>>()));
            // Started by NodeStart once this node is an Up member; read by readiness, the streams and /cluster.
            services.AddSingleton(provider => new ClusterMembership(provider.GetRequiredService<EtcdConnection>(), provider.GetRequiredService<IOptions<ReplClusterOptions>>().Value,
                provider.GetRequiredService<IOptions<NodeOptions>>().Value.Id, provider.GetRequiredService<TopicRegistry>(), provider.GetRequiredService<EtcdLog>().Health,
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<ILogger<ClusterMembership>>()));
            // The sequencer's journal, snapshot store and lease (hocon/broker.hocon) talk to etcd through this.
            services.AddSingleton(provider => new EtcdStore(provider.GetRequiredService<EtcdConnection>(), cluster.Prefix));
        }

        return services.AddAkka(AkkaClusterSettings.SystemName, (akka, provider) =>
        {
            string hocon = Path.Combine(AppContext.BaseDirectory, "hocon");
            akka.AddHoconFile(Path.Combine(hocon, isCluster ? "broker.hocon" : "standalone.hocon"), HoconAddMode.Append);
            if (isCluster) akka.AddHoconFile(Path.Combine(hocon, "cluster.hocon"), HoconAddMode.Append);
            akka.AddHoconFile(Path.Combine(hocon, "repl.hocon"), HoconAddMode.Append)
                .AddHocon(SseStreams.DefaultConfig, HoconAddMode.Append)
                .ConfigureLoggers(loggers => loggers.ClearLoggers().AddLoggerFactory())
                .WithReplRemoting(akkaCluster)
                .WithActorSystemLivenessCheck()
                .WithAkkaClusterReadinessCheck();
            if (isCluster) akka.WithReplClusterLog();
            else akka.WithReplLogReader();
            akka.WithReplSequencer(sequencer, feedsReader: !isCluster, lease: isCluster ? EtcdLeaseOption.Sequencer : null);
            akka.WithReplBatcher(sequencer)
                .WithReplTopics(TopicShards, topics.PassivateAfter, sequencer.Deadline,
                    new Repl.Actors.Sharding.PresenceProtocol.EventOptions(PresenceFlush, topics.PresenceLeaveGrace, topics.PresenceEventsUpTo))
                .WithReplPresence(PresenceFlush, topics.PassivateAfter)
                .WithReplRetention(nodeOptions.RetentionInterval, sequencer.Deadline)
                .WithActors((system, registry, resolver) =>
                {
                    // The streams are resolved on the first call: SseStreams takes the actor system, which is starting here.
                    var serverApi = system.ActorOf(ServerApiActor.Props(() => resolver.GetService<SseStreams>(), resolver.GetService<RefusedUsers>()),
                        Repl.Actors.ServerApi.ServerApiProtocol.ActorName);
                    registry.Register<Repl.Actors.ServerApi.ServerApiProtocol.Key>(serverApi);
                });
            if (configuration.GetSection("akka").Exists()) akka.AddHocon(configuration.GetSection("akka"), HoconAddMode.Prepend);
        });
    }

    /// <summary>
    /// Remoting and cluster membership: standalone, loopback on a free port and a one-node cluster of itself (no seed to
    /// wait for); in cluster mode (brokers, lighthouses) remoting at CLUSTER_IP/CLUSTER_PORT and the seeds joined.
    /// </summary>
    internal static AkkaConfigurationBuilder WithReplRemoting(this AkkaConfigurationBuilder akka, AkkaClusterSettings settings)
    {
        akka.WithRemoting(settings.Hostname, settings.Port, settings.PublicHostname, settings.Port == 0 ? null : settings.Port);
        if (settings.Seeds.Count == 0)
        {
            return akka.WithClustering(new HostingClusterOptions { Roles = [settings.Role] })
                .AddStartup((system, _) => Akka.Cluster.Cluster.Get(system).Join(Akka.Cluster.Cluster.Get(system).SelfAddress));
        }
        return akka.WithClustering(new HostingClusterOptions { Roles = [settings.Role], SeedNodes = [.. settings.Seeds] });
    }
}
