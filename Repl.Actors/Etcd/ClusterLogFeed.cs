using Akka.Actor;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Reader;
using Repl.Actors.Storage;
using Repl.Actors.Topics;

namespace Repl.Actors.Etcd;

/// <summary>
/// Cluster mode: etcd's watch of the log (<see cref="EtcdLog"/>) feeding the node's <see cref="LogReader"/>, never more
/// than <see cref="Window"/> entries ahead of what the reader has applied.
/// </summary>
/// <remarks>
/// <para><b>Start</b> (<see cref="Started"/>): the node's journal must not be ahead of etcd's log (etcd was reset under
/// the node, or it is another cluster: the reader would silently skip everything until the positions caught up), and the
/// log's epoch is taken from etcd (<c>{prefix}/epoch</c>; the first node to start draws it) before anything is applied,
/// so every node frames the same ids. A start while etcd has no quorum waits for it.</para>
/// <para><b>Bound.</b> The feed hands the reader at most <see cref="Window"/> entries at a time (more only when one
/// committed batch is longer), and after each hand-over waits until the reader's applied position is within the window
/// of what it was handed: a node catching up (a late start, a compaction) holds at most about twice the window and one
/// watch answer, not the backlog. While the feed waits it does not read the watch, and gRPC's flow control holds etcd
/// back (the watch is opened with <c>fragment</c>, so one answer is at most etcd's request limit, 1.5 MiB by default,
/// or one committed batch).</para>
/// <para><b>Restart.</b> Each batch says the position it follows. A reader that crashed lost its batch: the ones after it
/// in its mailbox no longer follow its watermark and are dropped, and <see cref="Restart"/> opens the watch again from
/// the watermark (at the revision the replica kept with it).</para>
/// </remarks>
public sealed class ClusterLogFeed : IAsyncDisposable
{
    /// <summary>Default <see cref="Window"/>: two of the sequencer's largest batches.</summary>
    public const int DefaultWindow = 8192;

    private readonly EtcdLog _log;
    private readonly EtcdConnection _etcd;
    private readonly Journal _journal;
    private readonly TopicRegistry _registry;
    private readonly string _epochKey;
    private readonly string _dataDir;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;
    private CancellationTokenSource? _watch;
    private long _fed;

    /// <param name="log">The log to watch.</param>
    /// <param name="etcd">etcd, for the epoch.</param>
    /// <param name="journal">The node's journal, etcd's local replica: where the watch resumes, and the ahead check.</param>
    /// <param name="registry">The reader's applied position and the node's epoch.</param>
    /// <param name="prefix">Key prefix of the cluster in etcd.</param>
    /// <param name="dataDir">The journal's data directory, named when the journal is ahead of etcd.</param>
    /// <param name="window">Most entries handed to the reader beyond its applied position.</param>
    public ClusterLogFeed(EtcdLog log, EtcdConnection etcd, Journal journal, TopicRegistry registry, string prefix, string dataDir, int window, TimeProvider time,
        ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        _log = log;
        _etcd = etcd;
        _journal = journal;
        _registry = registry;
        _epochKey = prefix.TrimEnd('/') + "/epoch";
        _dataDir = dataDir;
        Window = window;
        _time = time;
        _logger = logger;
    }

    /// <summary>Most entries handed to the reader beyond its applied position.</summary>
    public int Window { get; }

    /// <summary>
    /// Completes once the journal was checked against etcd's head and the epoch is in place; fails when the journal is
    /// ahead of etcd (the node must not start).
    /// </summary>
    public Task Started => _started.Task;

    /// <summary>The last position handed to the reader.</summary>
    public long FedPosition => Volatile.Read(ref _fed);

    /// <summary>Starts feeding <paramref name="reader"/>, once.</summary>
    public void Start(IActorRef reader)
    {
        if (_loop is not null) throw new InvalidOperationException("the feed has started");
        _loop = Task.Run(() => RunAsync(reader));
    }

    /// <summary>Opens the watch again from the reader's watermark (the reader lost the batch it crashed on).</summary>
    /// <remarks>
    /// Called from the reader's restart, so it must not throw: the source may be disposed between the read and the
    /// cancel (the loop's turn ended, or the loop has returned), and a throw there would stop the reader for good.
    /// </remarks>
    public void Restart()
    {
        try
        {
            Volatile.Read(ref _watch)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // That watch is gone already: the next one opens from the reader's watermark anyway.
        }
    }

    private async Task RunAsync(IActorRef reader)
    {
        try
        {
            await PrepareAsync(_stopping.Token).ConfigureAwait(false);
            _started.TrySetResult();
        }
        catch (Exception error)
        {
            if (error is OperationCanceledException && _stopping.IsCancellationRequested) _started.TrySetCanceled();
            else _started.TrySetException(error);
            return;
        }

        while (!_stopping.IsCancellationRequested)
        {
            using var watch = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            Volatile.Write(ref _watch, watch);
            try
            {
                long after = _registry.AppliedPosition;
                // The replica remembers the revision of the last batch it wrote; one from before it did is older than that.
                long from = _journal.ReplicaRevision > 0 ? _journal.ReplicaRevision : EtcdPositions.RevisionOf(after);
                await foreach (var batch in _log.ReadAsync(after, from, Window, watch.Token).ConfigureAwait(false))
                {
                    reader.Tell(new LogReaderProtocol.Apply(after, batch.Entries, Revision: batch.Revision));
                    after = batch.Entries[^1].Position;
                    Volatile.Write(ref _fed, after);
                    // The credit: the next batch is read once the reader is within the window of this one.
                    if (after - _registry.AppliedPosition > Window) await _registry.WaitAppliedAsync(after - Window).WaitAsync(watch.Token).ConfigureAwait(false);
                }
                // The log ended without being asked to: it was disposed.
                if (!watch.IsCancellationRequested) return;
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception error)
            {
                _logger.LogError(error, "Reading the cluster log failed; restarting from position {Position}", _registry.AppliedPosition);
            }
        }
    }

    /// <summary>The ahead check and the epoch, until etcd answers.</summary>
    private Task PrepareAsync(CancellationToken stop) => EtcdConnection.UntilAnswersAsync(async () =>
    {
        long head = await _log.HeadAsync(stop).ConfigureAwait(false);
        if (head < _journal.LastPosition)
        {
            throw new InvalidOperationException(
                $"this node's journal (position {_journal.LastPosition}) is ahead of etcd's log (position {head}): " +
                $"etcd was reset or this is another cluster. Start the node with an empty data directory (Journal:DataDir '{_dataDir}').");
        }
        _registry.UseEpoch(await EpochAsync(stop).ConfigureAwait(false));
    }, _logger, stop, _time);

    /// <summary>The log's epoch, kept in etcd beside the log; the first node to start draws it, every later one reads it.</summary>
    private async Task<LogEpoch> EpochAsync(CancellationToken cancellationToken)
    {
        var drawn = LogEpoch.New();
        var key = EtcdConnection.Key(_epochKey);
        var txn = new TxnRequest
        {
            Compare = { new Compare { Key = key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(drawn.Text) } } },
            Failure = { new RequestOp { RequestRange = new RangeRequest { Key = key } } },
        };
        var result = await _etcd.Client.TransactionAsync(txn, deadline: _etcd.Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.Succeeded) return drawn;
        string held = result.Responses[0].ResponseRange.Kvs[0].Value.ToStringUtf8();
        return LogEpoch.TryParse(held, out var epoch) ? epoch : throw new InvalidOperationException($"etcd key {_epochKey} holds '{held}', not a log epoch");
    }

    /// <summary>Stops the watch.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested) return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        _started.TrySetCanceled();
    }
}
