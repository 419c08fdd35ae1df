using Microsoft.Extensions.Options;
using Repl.Actors.Cluster;
using Repl.Actors.Cluster.Etcd;
using Repl.Actors.Journal;
using Repl.Actors.Log;
using Repl.Actors.Topics;
using Repl.Host.Cluster;
using Repl.Sse;

namespace Repl.Host.Node;

/// <summary>
/// The broker on this node: journal, log, sequencer, applier and topics, started and stopped with the host.
/// </summary>
/// <remarks>
/// Shutdown drains: the sequencer commits what it has queued (those publishes are acknowledged), the applier
/// applies everything committed, then the journal closes. Streams end first, when the host stops accepting
/// requests (their cancellation is linked to <c>ApplicationStopping</c>).
/// <para>Cluster mode (<c>Cluster:Etcd</c> set): the log is an <see cref="EtcdLog"/>, the journal becomes the
/// applier's local replica, the node joins the member list (<see cref="ClusterMembership"/>), and only the
/// <c>$canary</c> topic is created at start (create-if-missing, idempotent cluster-wide).</para>
/// </remarks>
public sealed class ReplNode : IHostedService
{
    public const string CanaryTopic = "$canary";

    private readonly IOptions<JournalOptions> _journalOptions;
    private readonly TopicsOptions _topicsOptions;
    private readonly SequencerOptions _sequencerOptions;
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _loops = [];
    private Journal? _journal;
    private ILog? _log;
    private Applier? _applier;
    private Sequencer? _sequencer;
    private Task _pump = Task.CompletedTask;

    public ReplNode(IOptions<NodeOptions> node, IOptions<JournalOptions> journal, IOptions<TopicsOptions> topics,
        IOptions<SequencerOptions> sequencer, SseCounters streams, IOptions<ClusterOptions> cluster, ILoggerFactory loggers, TimeProvider time)
    {
        ClusterOptions = cluster.Value;
        Streams = streams;
        Options = node.Value;
        _journalOptions = journal;
        _topicsOptions = topics.Value;
        _sequencerOptions = sequencer.Value;
        _loggers = loggers;
        _time = time;
    }

    public NodeOptions Options { get; }

    public ClusterOptions ClusterOptions { get; }

    /// <summary><c>standalone</c> or <c>cluster</c>.</summary>
    public string Mode => IsCluster ? "cluster" : "standalone";

    public bool IsCluster => !string.IsNullOrWhiteSpace(ClusterOptions.Etcd);

    /// <summary>Cluster mode: the etcd client.</summary>
    public EtcdClient? Etcd { get; private set; }

    /// <summary>Cluster mode: membership, progress and the etcd probe.</summary>
    public ClusterMembership? Membership { get; private set; }

    /// <summary>Fires when streams should end and retry on another node (cluster mode, etcd unreachable for a while).</summary>
    public CancellationToken StreamsUnavailable => Membership?.StreamsUnavailable ?? CancellationToken.None;

    public TopicRegistry Registry { get; } = new();

    /// <summary>The node's SSE streams' counters (the streams themselves are graphs, see <see cref="SseStreams"/>).</summary>
    public SseCounters Streams { get; }

    public Journal Journal => _journal ?? throw NotStarted();

    public ILog Log => _log ?? throw NotStarted();

    public Sequencer Sequencer => _sequencer ?? throw NotStarted();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var logger = _loggers.CreateLogger<ReplNode>();
        _journal = Journal.Open(_journalOptions.Value);
        if (IsCluster)
        {
            var etcd = EtcdOptions.FromEndpoints(ClusterOptions.Etcd!);
            Etcd = new EtcdClient(new EtcdOptions { Endpoints = etcd.Endpoints, RequestTimeout = ClusterOptions.RequestTimeout, TimeProvider = _time });
            var health = new LogHealth(_time);
            _log = new EtcdLog(Etcd, new EtcdLogOptions { Prefix = ClusterOptions.Prefix, NodeId = Options.Id, WriterSlots = ClusterOptions.MaxInFlightAppends },
                _journal.LoadTopics(), health, _time,
                _loggers.CreateLogger<EtcdLog>());
            Membership = new ClusterMembership(Etcd, ClusterOptions, Options.Id, Registry, health, _time, _loggers.CreateLogger<ClusterMembership>());
        }
        else
        {
            _log = new SqliteLog(_journal);
        }
        _applier = new Applier(Registry, _topicsOptions, _journal, replica: IsCluster ? _journal : null, _loggers.CreateLogger<Applier>());
        _applier.Start();
        _pump = _applier.PumpAsync(_log, CancellationToken.None);
        var sequencerOptions = IsCluster
            ? new SequencerOptions { MaxBatch = _sequencerOptions.MaxBatch, MaxQueued = _sequencerOptions.MaxQueued, MaxInFlight = Math.Max(1, ClusterOptions.MaxInFlightAppends) }
            : _sequencerOptions;
        _sequencer = new Sequencer(_log, Registry, sequencerOptions);
        _sequencer.Start();

        if (Membership is not null)
        {
            await UntilEtcdAnswersAsync(() => Membership.StartAsync(cancellationToken), logger, cancellationToken);
            // Positions come from etcd revisions: a journal ahead of etcd means etcd was reset under this node, and
            // the applier would silently skip everything until the revisions caught up.
            long revision = (await Etcd!.RangeAsync(EtcdLog.LogKey(ClusterOptions.Prefix), keysOnly: true, cancellationToken: cancellationToken)).Header.Revision;
            if (revision < EtcdPositions.RevisionOf(_journal.LastPosition))
            {
                throw new InvalidOperationException(
                    $"this node's journal (etcd revision {EtcdPositions.RevisionOf(_journal.LastPosition)}) is ahead of etcd (revision {revision}): " +
                    $"etcd was reset or this is another cluster. Start the node with an empty data directory (Journal:DataDir '{_journalOptions.Value.DataDir}').");
            }
        }
        foreach (var name in IsCluster ? [CanaryTopic] : _topicsOptions.Initial.Append(CanaryTopic))
        {
            if (Registry.TryGet(name, out _)) continue;
            long position = 0;
            await UntilEtcdAnswersAsync(async () => position = await _log.CreateTopicAsync(name, cancellationToken), logger, cancellationToken);
            await Registry.WaitAppliedAsync(position);
        }

        var retention = new Retention(_journal, Registry, _time, _loggers.CreateLogger<Retention>());
        _loops.Add(retention.RunAsync(Options.RetentionInterval, _stopping.Token));
        _loops.Add(SweepAsync(_stopping.Token));
        logger.LogInformation("Repl node {Node} started ({Mode}); journal at position {Position}, {Topics} topics",
            Options.Id, Mode, _journal.LastPosition, Registry.All.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_sequencer is not null) await _sequencer.DisposeAsync();
        // Closing the log ends the pump once the applier has been handed everything committed.
        if (_log is not null) await _log.DisposeAsync();
        await _pump;
        if (Membership is not null) await Membership.DisposeAsync();
        if (Etcd is not null) await Etcd.DisposeAsync();
        await _stopping.CancelAsync();
        await Task.WhenAll(_loops.Select(loop => loop.ContinueWith(static _ => { }, TaskScheduler.Default)));
        if (_applier is not null) await _applier.DisposeAsync();
        _journal?.Dispose();
    }

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, _topicsOptions.PassivateAfter.Ticks / 4));
        using var timer = new PeriodicTimer(interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken)) _applier?.Tell(new Applier.Command.Sweep());
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Cluster mode: a node started while etcd has no quorum waits for it rather than failing to start.</summary>
    private static async Task UntilEtcdAnswersAsync(Func<Task> call, ILogger logger, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await call();
                return;
            }
            catch (Exception error) when (error is LogUnavailableException or EtcdException && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("Waiting for etcd: {Message}", error.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    private static InvalidOperationException NotStarted() => new("the node has not started");
}
