using Microsoft.Extensions.Options;
using Repl.Actors.Journal;
using Repl.Actors.Log;
using Repl.Actors.Topics;
using Repl.Sse;

namespace Repl.Host.Node;

/// <summary>
/// The broker on this node: journal, log, sequencer, applier and topics, started and stopped with the host.
/// </summary>
/// <remarks>
/// Shutdown drains: the sequencer commits what it has queued (those publishes are acknowledged), the applier
/// applies everything committed, then the journal closes. Streams end first, when the host stops accepting
/// requests (their cancellation is linked to <c>ApplicationStopping</c>).
/// </remarks>
public sealed class ReplNode : IHostedService
{
    public const string CanaryTopic = "$canary";

    private readonly IOptions<JournalOptions> _journalOptions;
    private readonly TopicsOptions _topicsOptions;
    private readonly SequencerOptions _sequencerOptions;
    private readonly SseOptions _sseOptions;
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
        IOptions<SequencerOptions> sequencer, IOptions<SseOptions> sse, ILoggerFactory loggers, TimeProvider time)
    {
        _sseOptions = sse.Value;
        Options = node.Value;
        _journalOptions = journal;
        _topicsOptions = topics.Value;
        _sequencerOptions = sequencer.Value;
        _loggers = loggers;
        _time = time;
    }

    public NodeOptions Options { get; }

    /// <summary><c>standalone</c> or <c>cluster</c>.</summary>
    public string Mode => "standalone";

    public TopicRegistry Registry { get; } = new();

    public SseCounters Streams { get; } = new();

    public Journal Journal => _journal ?? throw NotStarted();

    public ILog Log => _log ?? throw NotStarted();

    public Sequencer Sequencer => _sequencer ?? throw NotStarted();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var logger = _loggers.CreateLogger<ReplNode>();
        _journal = Journal.Open(_journalOptions.Value);
        _log = new SqliteLog(_journal);
        _applier = new Applier(Registry, _topicsOptions, _journal, replica: null, _loggers.CreateLogger<Applier>());
        _applier.Start();
        _pump = _applier.PumpAsync(_log, CancellationToken.None);
        _sequencer = new Sequencer(_log, Registry, _sequencerOptions);
        _sequencer.Start();

        foreach (var name in _topicsOptions.Initial.Append(CanaryTopic))
        {
            if (Registry.TryGet(name, out _)) continue;
            long position = await _log.CreateTopicAsync(name, cancellationToken);
            await Registry.WaitAppliedAsync(position);
        }

        var retention = new Retention(_journal, Registry, _time, _loggers.CreateLogger<Retention>());
        _loops.Add(retention.RunAsync(Options.RetentionInterval, _stopping.Token));
        _loops.Add(SweepAsync(_stopping.Token));
        _loops.Add(HeartbeatAsync(_stopping.Token));
        logger.LogInformation("Repl node {Node} started ({Mode}); journal at position {Position}, {Topics} topics",
            Options.Id, Mode, _journal.LastPosition, Registry.All.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_sequencer is not null) await _sequencer.DisposeAsync();
        // Closing the log ends the pump once the applier has been handed everything committed.
        if (_log is not null) await _log.DisposeAsync();
        await _pump;
        await _stopping.CancelAsync();
        await Task.WhenAll(_loops.Select(loop => loop.ContinueWith(static _ => { }, TaskScheduler.Default)));
        if (_applier is not null) await _applier.DisposeAsync();
        _journal?.Dispose();
    }

    /// <summary>Timed work of streams (pings, token expiry), once a second or at half the ping interval if shorter.</summary>
    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        var interval = TimeSpan.FromTicks(Math.Clamp(_sseOptions.PingInterval.Ticks / 2, TimeSpan.TicksPerMillisecond * 50, TimeSpan.TicksPerSecond));
        using var timer = new PeriodicTimer(interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken)) Registry.Heartbeat();
        }
        catch (OperationCanceledException)
        {
        }
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

    private static InvalidOperationException NotStarted() => new("the node has not started");
}
