using Akka.Actor;
using Repl.Actors.Etcd;
using Repl.Actors.Log;

namespace Repl.Actors.Sequencer;

/// <summary>
/// A node's publishes on their way to the sequencer: one message per batch, whatever arrived while earlier batches
/// were in flight, each with the deadline after which it must not be committed.
/// </summary>
/// <remarks>
/// <para>A publisher is answered only once its batch is committed <em>and</em> applied on this node
/// (<see cref="AppliedLog.WhenApplied"/>), so its next read (history, a new stream) already sees it.</para>
/// <para><b>Admission.</b> While the node's streams run more than <see cref="StreamBacklog.Limit"/> positions behind
/// its applied log, the next batch waits (at most <see cref="Options.MaxHold"/> at a time): under overload publishers
/// wait longer for their answer instead of the streams falling behind their rings (see <see cref="StreamBacklog"/>).
/// A publish's deadline starts when its batch is cut, so the wait never turns into a 503.</para>
/// <para>A batch the sequencer never answers (it died with it, or the singleton moved) is failed at its deadline plus
/// <see cref="Options.AnswerGrace"/>: the sequencer does not cut a batch past its deadline, and a write it had started
/// before has ended by then, committed or not; which one is not known here, and the publisher is told so
/// (<see cref="OutcomeUnknownException"/>). Nothing is acknowledged that is not committed.</para>
/// <para>A batch is at most one log transaction (<see cref="Options.MaxBatchBytes"/>): the sequencer never splits one.</para>
/// </remarks>
public sealed class Batcher : ReceiveActor, IWithTimers
{
    private readonly IActorRef _sequencer;
    private readonly AppliedLog _applied;
    private readonly Options _options;
    private readonly TimeProvider _time;
    private readonly PublishQueue _queue;
    private readonly StreamBacklog? _backlog;
    private readonly Action _caughtUp;
    private readonly Dictionary<long, InFlight> _inFlight = [];
    // The sequencer itself once it has answered from this node (standalone, or the cluster node that holds the
    // singleton): batches skip the singleton proxy and the backoff supervisor, two hops through the shared pool.
    private IActorRef? _local;
    private long _nextBatch;
    private bool _holding;
    private bool _holdOver;

    /// <param name="queue">Where the node's handlers leave publishes (<see cref="PublishQueue"/>); a <see cref="Publish"/> message works too.</param>
    /// <param name="backlog">The node's streams' lag; without it batches never wait for the streams.</param>
    public Batcher(IActorRef sequencer, AppliedLog applied, Options options, TimeProvider time, PublishQueue? queue = null, StreamBacklog? backlog = null)
    {
        var self = Self;
        _caughtUp = () => self.Tell(CaughtUp.Instance);
        _backlog = backlog;
        _sequencer = sequencer;
        _applied = applied;
        _options = options;
        _time = time;
        _queue = queue ?? new PublishQueue();
        _queue.Attach(Self);
        Receive<Look>(_ =>
        {
            _queue.Looking();
            Send();
        });
        Receive<Publish>(publish =>
        {
            _queue.Enqueue(publish);
            Send();
        });
        Receive<SequencerProtocol.Committed>(committed =>
        {
            Answered();
            Committed(committed);
        });
        Receive<SequencerProtocol.Rejected>(rejected =>
        {
            Answered();
            Fail(rejected.BatchId, new LogUnavailableException(rejected.Reason));
        });
        Receive<SequencerProtocol.OutcomeUnknown>(unknown =>
        {
            Answered();
            Fail(unknown.BatchId, new OutcomeUnknownException(unknown.Reason + RetryAdvice));
        });
        Receive<Expire>(_ => ExpireOverdue());
        Receive<CaughtUp>(_ => Send());
        Receive<HoldOver>(_ =>
        {
            _holdOver = true;
            Send();
        });
        Receive<Terminated>(terminated =>
        {
            if (terminated.ActorRef.Equals(_local)) _local = null;
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef sequencer, AppliedLog applied, Options options, TimeProvider time, PublishQueue? queue = null, StreamBacklog? backlog = null) =>
        Akka.Actor.Props.Create(() => new Batcher(sequencer, applied, options, time, queue, backlog));

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("expire", Expire.Instance, TimeSpan.FromSeconds(1));
        // Publishes queued before this batcher existed (or while a predecessor restarted) are not left waiting.
        Self.Tell(Look.Instance);
    }

    private void Send()
    {
        while (_inFlight.Count < _options.MaxInFlight && _queue.TryPeek(out _))
        {
            if (Holding()) return;
            var publishes = new List<Publish>();
            int commands = 0;
            long bytes = 0;
            // Bounded by commands and by the bytes of one log transaction: the sequencer writes a batch whole, never split
            // over two transactions. One publish always goes.
            while (_queue.TryPeek(out var next))
            {
                long size = LogBatchCodec.SizeOf(next.Commands);
                if (publishes.Count > 0 && (commands + next.Commands.Length > _options.MaxBatch || bytes + size > _options.MaxBatchBytes)) break;
                if (!_queue.TryTake(out next)) break;
                bytes += size;
                commands += next.Commands.Length;
                publishes.Add(next);
            }
            var all = new PublishCommand[commands];
            int offset = 0;
            bool whole = false;
            foreach (var publish in publishes)
            {
                publish.Commands.CopyTo(all, offset);
                offset += publish.Commands.Length;
                whole |= publish.Whole;
            }
            // Requests are told apart only when one must commit whole: the other batches stay as they were (and as a
            // sequencer of an older version reads them).
            int[]? requests = whole ? [.. publishes.Select(publish => publish.Commands.Length)] : null;
            long deadline = _time.GetUtcNow().Add(_options.Deadline).ToUnixTimeMilliseconds();
            long id = ++_nextBatch;
            _inFlight[id] = new InFlight(publishes, deadline);
            (_local ?? _sequencer).Tell(new SequencerProtocol.Publish(id, all, deadline, requests));
        }
    }

    /// <summary>Whether the next batch waits for the node's streams: while they are behind, for at most one <see cref="Options.MaxHold"/>.</summary>
    private bool Holding()
    {
        if (_backlog is null) return false;
        if (!_holdOver && _backlog.Hold(_caughtUp))
        {
            if (!_holding)
            {
                _holding = true;
                Timers.StartSingleTimer(nameof(HoldOver), HoldOver.Instance, _options.MaxHold);
                _backlog.HoldStarted();
            }
            return true;
        }
        if (_holding)
        {
            _holding = false;
            Timers.Cancel(nameof(HoldOver));
        }
        _holdOver = false;
        return false;
    }

    /// <summary>Learns the sequencer from its answer when it runs on this node; once it stops, the proxy finds its successor.</summary>
    private void Answered()
    {
        if (_local is not null || Sender.IsNobody() || Sender is not IInternalActorRef { IsLocal: true } sequencer) return;
        _local = sequencer;
        Context.Watch(sequencer);
    }

    private void Committed(SequencerProtocol.Committed committed)
    {
        if (!_inFlight.Remove(committed.BatchId, out var batch)) return;
        var positions = committed.Positions;
        var retried = committed.Retried;
        long last = 0;
        foreach (long position in positions) last = Math.Max(last, position);
        _applied.WhenApplied(last, () =>
        {
            // A publish the reader skipped (its topic did not exist at that point of the log) gets 0, as if its topic had
            // been gone when it was cut. The sequencer, the log's one writer, checks the topic when it cuts, so only a
            // batch from before the cluster had a sequencer can hold such a publish.
            for (int i = 0; i < positions.Length; i++)
            {
                if (positions[i] > 0) positions[i] = _applied.Resolve(positions[i]);
            }
            int offset = 0;
            foreach (var publish in batch.Publishes)
            {
                int end = offset + publish.Commands.Length;
                publish.Completion.TrySetResult(new Commit(positions[offset..end], retried is not null && Array.IndexOf(retried, true, offset, end - offset) >= 0 ? retried[offset..end] : null));
                offset = end;
            }
        });
        Send();
    }

    private void ExpireOverdue()
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        List<long>? overdue = null;
        foreach (var (id, batch) in _inFlight)
        {
            if (now > batch.DeadlineMs + (long)_options.AnswerGrace.TotalMilliseconds) (overdue ??= []).Add(id);
        }
        if (overdue is null) return;
        // Not cut by its deadline, or cut and its write's answer lost with the sequencer (its node gone): not known which.
        var error = new OutcomeUnknownException("the log's sequencer did not answer in time, so the publish's outcome is unknown (it may have been committed)" + RetryAdvice);
        foreach (long id in overdue) Fail(id, error);
    }

    private void Fail(long batchId, Exception error)
    {
        if (!_inFlight.Remove(batchId, out var batch)) return;
        foreach (var publish in batch.Publishes) publish.Completion.TrySetException(error);
        Send();
    }

    /// <summary>What a publisher whose outcome is unknown can do, said with the error.</summary>
    private const string RetryAdvice = ". Retry it with the same Idempotency-Key (or idempotencyKey per batch item): it is committed once. "
        + "Without a key a retry may publish it twice";

    /// <summary>A publish from this node's HTTP handlers. Never leaves the node.</summary>
    /// <param name="Whole">Its commands commit all or nothing (<see cref="SequencerProtocol.Publish.Requests"/>).</param>
    public sealed record Publish(PublishCommand[] Commands, TaskCompletionSource<Commit> Completion, bool Whole = false) : INoSerializationVerificationNeeded;

    /// <summary>The <see cref="PublishQueue"/> has publishes: take what the in-flight bound allows.</summary>
    public sealed record Look : INoSerializationVerificationNeeded
    {
        public static readonly Look Instance = new();
    }

    /// <summary>How the batcher cuts and waits.</summary>
    /// <param name="MaxInFlight">Batches sent and not yet answered. Two keeps the sequencer's queue from running dry while an answer travels back.</param>
    /// <param name="Deadline">A batch not cut by the sequencer this long after it was sent is not committed.</param>
    /// <param name="AnswerGrace">How long after the deadline an unanswered batch is failed.</param>
    /// <param name="MaxHold">Longest a batch waits for the node's streams to catch up (<see cref="StreamBacklog"/>) before it is cut anyway.</param>
    /// <param name="MaxBatchBytes">Most bytes of entries in one batch, as the log encodes them: one etcd transaction's (<see cref="LogWriteLimits.MaxBytes"/>).</param>
    public sealed record Options(int MaxBatch = 4096, long MaxBatchBytes = LogWriteLimits.MaxBytes, int MaxInFlight = 2, TimeSpan Deadline = default, TimeSpan AnswerGrace = default,
        TimeSpan MaxHold = default)
    {
        public TimeSpan MaxHold { get; init; } = MaxHold == default ? TimeSpan.FromMilliseconds(250) : MaxHold;

        public TimeSpan Deadline { get; init; } = Deadline == default ? TimeSpan.FromSeconds(5) : Deadline;

        public TimeSpan AnswerGrace { get; init; } = AnswerGrace == default ? TimeSpan.FromSeconds(5) : AnswerGrace;
    }

    /// <summary>Typed key of the node's batcher in Akka.Hosting's actor registry.</summary>
    public sealed class Key;

    private sealed record InFlight(List<Publish> Publishes, long DeadlineMs);

    private sealed record Expire : INoSerializationVerificationNeeded
    {
        public static readonly Expire Instance = new();
    }

    /// <summary>The node's streams are no longer behind.</summary>
    private sealed record CaughtUp : INoSerializationVerificationNeeded
    {
        public static readonly CaughtUp Instance = new();
    }

    /// <summary>A batch has waited <see cref="Options.MaxHold"/> for the streams: cut it anyway.</summary>
    private sealed record HoldOver : INoSerializationVerificationNeeded
    {
        public static readonly HoldOver Instance = new();
    }
}
