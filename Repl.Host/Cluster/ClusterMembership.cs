using System.Globalization;
using System.Text.Json;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Repl.Actors.Etcd;
using Repl.Actors.Topics;

namespace Repl.Host.Cluster;

/// <summary>
/// This node in the cluster: its leased member key, its published progress, the etcd probe behind readiness and
/// stream cut-off, and (on one node at a time) etcd compaction.
/// </summary>
/// <remarks>
/// <para>Keys, under one lease kept alive by an <see cref="EtcdLease"/>: <c>{prefix}/members/{id}</c> =
/// <c>{"id","url","startedAt"}</c> and <c>{prefix}/progress/{id}</c> = the applied position (written at most once
/// per <see cref="ClusterOptions.ProgressInterval"/>, only when it moved). A lost lease is granted again and the keys
/// re-put.</para>
/// <para>Each interval the node reads the log key's revision (a linearizable read: it needs a quorum). Its outcome
/// feeds <see cref="LogHealth"/>; once every call has failed for <see cref="ClusterOptions.UnavailableAfter"/>,
/// <see cref="StreamsUnavailable"/> fires and open streams end with <c>event: unavailable</c>.</para>
/// <para>Compaction: the live member with the lowest id compacts etcd to the last
/// <see cref="ClusterOptions.WindowRevisions"/> revisions every <see cref="ClusterOptions.CompactInterval"/>.
/// Two nodes compacting at once (a membership change in between) is harmless: compaction is idempotent.</para>
/// </remarks>
public sealed class ClusterMembership : IAsyncDisposable
{
    private readonly EtcdConnection _etcd;
    private readonly ClusterOptions _options;
    private readonly string _nodeId;
    private readonly TopicRegistry _registry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _prefix;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly DateTimeOffset _startedAt;
    private readonly Lock _unavailableGate = new();
    private CancellationTokenSource _unavailable = new();
    private EtcdLease? _lease;
    private bool _joined;
    private bool _started;
    private long _publishedApplied = -1;
    private long _logHead;
    private long _compactedTo;

    public ClusterMembership(EtcdConnection etcd, ClusterOptions options, string nodeId, TopicRegistry registry, LogHealth health, TimeProvider time, ILogger logger)
    {
        _etcd = etcd;
        _options = options;
        _nodeId = nodeId;
        _registry = registry;
        Health = health;
        _time = time;
        _logger = logger;
        _prefix = options.Prefix.TrimEnd('/');
        _startedAt = time.GetUtcNow();
    }

    public LogHealth Health { get; }

    /// <summary>The log's last position at the last successful probe: how far the cluster's log has got.</summary>
    public long LogHead => Volatile.Read(ref _logHead);

    /// <summary>Entries this node's reader is behind the log (as of the last probe).</summary>
    public long Lag => Math.Max(0, LogHead - _registry.AppliedPosition);

    /// <summary>Fires when the node has been cut off from etcd for longer than <see cref="ClusterOptions.UnavailableAfter"/>; a new token after recovery.</summary>
    /// <remarks>
    /// Brought up to date when read, not only at the watch loop's next tick: a stream opened in the quarter second after
    /// etcd answered again must not start with the outage's cancelled token (and end at once with <c>unavailable</c>).
    /// </remarks>
    public CancellationToken StreamsUnavailable
    {
        get
        {
            lock (_unavailableGate)
            {
                UpdateUnavailable();
                return _unavailable.Token;
            }
        }
    }

    /// <summary>True while the node has been cut off from etcd for longer than <see cref="ClusterOptions.UnavailableAfter"/>: its streams are told to go elsewhere.</summary>
    public bool IsCutOff => Health.UnavailableFor is { } down && down >= _options.UnavailableAfter;

    public string MembersPrefix => _prefix + "/members/";

    public string ProgressPrefix => _prefix + "/progress/";

    /// <summary>True once the node's start has begun to join (before: the node is still waiting to be an Up member of the Akka cluster).</summary>
    public bool Started => Volatile.Read(ref _started);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _started, true);
        await JoinAsync(cancellationToken);
        _loops.Add(ProbeLoopAsync(_stop.Token));
        _loops.Add(UnavailableLoopAsync(_stop.Token));
        _loops.Add(CompactLoopAsync(_stop.Token));
    }

    /// <summary>Puts the member key under a live lease (granting a new one if there is none or it was lost).</summary>
    private async Task JoinAsync(CancellationToken cancellationToken)
    {
        _joined = false;
        if (_lease is { IsLost: true })
        {
            await _lease.DisposeAsync();
            _lease = null;
        }
        _lease ??= await EtcdLease.GrantAsync(_etcd, _options.LeaseTtl, _time, cancellationToken);
        var member = JsonSerializer.SerializeToUtf8Bytes(
            new ClusterMemberRecord(_nodeId, _options.AdvertiseUrl ?? "", _startedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)),
            ClusterJsonContext.Default.ClusterMemberRecord);
        await _etcd.PutAsync(MembersPrefix + _nodeId, ByteString.CopyFrom(member), _lease.Id, cancellationToken);
        _publishedApplied = -1;
        _joined = true;
        _logger.LogInformation("Joined the cluster as {Node} (lease {Lease:x})", _nodeId, _lease.Id);
    }

    private async Task ProbeLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.ProgressInterval, _time);
        while (await Tick(timer, stop))
        {
            long started = _time.GetTimestamp();
            // Short bound: the probe is how quickly the node notices it is cut off.
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(stop);
            bound.CancelAfter(TimeSpan.FromMilliseconds(Math.Min(2000, _options.UnavailableAfter.TotalMilliseconds / 2)));
            try
            {
                if (!_joined || _lease is null || _lease.IsLost) await JoinAsync(bound.Token);
                if (await _etcd.GetAsync(EtcdLog.HeadKey(_prefix), bound.Token) is { } head) Volatile.Write(ref _logHead, EtcdLog.ParseHead(head.Value.Span));
                long applied = _registry.AppliedPosition;
                if (applied != _publishedApplied)
                {
                    await _etcd.PutAsync(ProgressPrefix + _nodeId, ByteString.CopyFromUtf8(applied.ToString(CultureInfo.InvariantCulture)), _lease!.Id, bound.Token);
                    _publishedApplied = applied;
                }
                Health.ReportSuccess();
            }
            catch (Exception error) when (!stop.IsCancellationRequested && error is RpcException or OperationCanceledException)
            {
                Health.ReportFailure(error is OperationCanceledException ? new TimeoutException("etcd did not answer the probe in time") : error, started);
            }
        }
    }

    private async Task UnavailableLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250), _time);
        while (await Tick(timer, stop))
        {
            lock (_unavailableGate) UpdateUnavailable();
        }
    }

    /// <summary>Ends the streams once the node is cut off, and gives new ones a live token once it is not. Holds the gate.</summary>
    private void UpdateUnavailable()
    {
        bool cutOff = IsCutOff;
        if (cutOff && !_unavailable.IsCancellationRequested)
        {
            _logger.LogWarning("Cut off from etcd for {Seconds:0.#} s ({Error}); ending streams so clients move to another node",
                Health.UnavailableFor?.TotalSeconds, Health.LastError);
            _unavailable.Cancel();
        }
        else if (!cutOff && _unavailable.IsCancellationRequested)
        {
            _logger.LogInformation("etcd reachable again; accepting streams");
            _unavailable = new CancellationTokenSource();
        }
    }

    private async Task CompactLoopAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(_options.CompactInterval, _time);
        while (await Tick(timer, stop))
        {
            try
            {
                var members = await _etcd.GetPrefixAsync(MembersPrefix, 0, stop);
                string? lowest = members.Kvs.Select(kv => kv.Key.ToStringUtf8()[MembersPrefix.Length..]).Order(StringComparer.Ordinal).FirstOrDefault();
                if (lowest != _nodeId) continue;
                long target = members.Header.Revision - _options.WindowRevisions;
                if (target <= _compactedTo) continue;
                await _etcd.Client.CompactAsync(new CompactionRequest { Revision = target }, deadline: _etcd.Deadline(), cancellationToken: stop);
                _compactedTo = target;
                _logger.LogInformation("Compacted etcd up to revision {Revision}", target);
            }
            catch (RpcException error) when (EtcdConnection.IsCompacted(error))
            {
                // Another node got there first.
            }
            catch (Exception error) when (!stop.IsCancellationRequested && error is RpcException or OperationCanceledException)
            {
                _logger.LogWarning("Compacting etcd failed: {Message}", error.Message);
            }
        }
    }

    private static async Task<bool> Tick(PeriodicTimer timer, CancellationToken stop)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stop);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Stops the loops and leaves the cluster (revoking the lease removes the member and progress keys).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_loops);
        if (_lease is not null) await _lease.DisposeAsync();
    }
}

/// <summary>The value of a member key.</summary>
public sealed record ClusterMemberRecord(string Id, string Url, string StartedAt);
