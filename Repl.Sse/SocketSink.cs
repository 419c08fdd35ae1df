using System.IO.Pipelines;
using Akka.Streams;
using Akka.Streams.Stage;

namespace Repl.Sse;

/// <summary>
/// The sink of one SSE connection's graph: writes each <see cref="WriteRound"/> to the connection's
/// <see cref="PipeWriter"/> and flushes it. Materializes a task that completes when the stream has ended.
/// </summary>
/// <remarks>
/// <para><b>Inline.</b> A round is written and flushed in <c>OnPush</c>, with no await in between: with
/// <see cref="ChunkedSocketWriter"/> (or Kestrel with inline scheduling) the flush is the socket's <c>send()</c>, on
/// the streams' thread, and the writer's buffer is borrowed for that stretch only — an idle stream holds none.
/// A flush that completes at once pulls the next round at once.</para>
/// <para><b>Stalls.</b> A flush that does not complete (the socket is full) is awaited off the thread, bounded by
/// <see cref="SseOptions.StallTimeout"/> (the await's own timer, made only for a flush that waits; no stage timer),
/// and its end comes back through the stage's async callback: on the timeout the connection is counted as cut off,
/// aborted, and the stream ends.
/// Meanwhile nothing is pulled, so the source reads nothing and nothing queues; the thread serves other streams.</para>
/// <para>The task completes only once no flush is in flight (or the connection was aborted), so the request's handler
/// never returns while one of our sends could still interleave with Kestrel's closing chunk.</para>
/// </remarks>
internal sealed class SocketSink : GraphStageWithMaterializedValue<SinkShape<WriteRound>, Task>
{
    private readonly PipeWriter _writer;
    private readonly Action _abort;
    private readonly SseOptions _options;
    private readonly SseCounters _counters;
    private readonly CancellationToken _stop;

    /// <param name="abort">Drops the connection; called when the client stalls, or stops with a flush in flight.</param>
    /// <param name="stop">The request's end or the host's: a flush still in flight then is abandoned (and the connection aborted).</param>
    public SocketSink(PipeWriter writer, Action abort, SseOptions options, SseCounters counters, CancellationToken stop)
    {
        _writer = writer;
        _abort = abort;
        _options = options;
        _counters = counters;
        _stop = stop;
        Shape = new SinkShape<WriteRound>(In);
    }

    public Inlet<WriteRound> In { get; } = new("sse.socket.in");

    public override SinkShape<WriteRound> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("sse-socket");

    public override ILogicAndMaterializedValue<Task> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return new LogicAndMaterializedValue<Task>(new Logic(this, ended), ended.Task);
    }

    /// <summary>How a flush that waited ended.</summary>
    private enum FlushEnd
    {
        /// <summary>Sent; the response goes on.</summary>
        Sent,

        /// <summary>The response is over (completed, cancelled, or the write failed): the client is gone.</summary>
        Closed,

        /// <summary>The socket took nothing for <see cref="SseOptions.StallTimeout"/>.</summary>
        Stalled,
    }

    // Its own in-handler (not SetHandler's lambdas): a handler object and its three delegates are ~250 B a stream.
    private sealed class Logic : InGraphStageLogic
    {
        private readonly SocketSink _stage;
        private readonly TaskCompletionSource _ended;
        // Made on the first flush that waits: most streams never wait, and an async callback is ~280 B of heap per
        // stream (bench/README.md, "Where S4's memory per connection goes").
        private Action<FlushEnd>? _flushed;
        private Exception? _failure;
        private int _inFlightMessages;
        private bool _flushing;
        private bool _upstreamDone;
        private volatile bool _stopped;

        public Logic(SocketSink stage, TaskCompletionSource ended) : base(stage.Shape)
        {
            _stage = stage;
            _ended = ended;
            SetHandler(stage.In, this);
        }

        public override void OnUpstreamFinish() => OnUpstreamEnd(null);

        public override void OnUpstreamFailure(Exception e) => OnUpstreamEnd(e);

        public override void PreStart() => Pull(_stage.In);

        public override void PostStop()
        {
            _stopped = true;
            if (_failure is { } failure) _ended.TrySetException(failure);
            else _ended.TrySetResult();
            base.PostStop();
        }

        public override void OnPush()
        {
            var round = Grab(_stage.In);
            int messages = round.Messages;
            ValueTask<FlushResult> flush;
            try
            {
                round.WriteTo(_stage._writer);
                flush = _stage._writer.FlushAsync();
            }
            catch (Exception error) when (error is IOException or InvalidOperationException or OperationCanceledException)
            {
                // The response is over (Kestrel completed or aborted it): the client is gone.
                CompleteStage();
                return;
            }
            if (flush.IsCompleted)
            {
                Flushed(IsOpen(flush), messages);
                return;
            }
            _flushing = true;
            _stage._counters.FlushWaited();
            _inFlightMessages = messages;
            _ = AwaitFlushAsync(flush, _stage._options.StallTimeout, _flushed ??= GetAsyncCallback<FlushEnd>(OnFlushed));
        }

        private async Task AwaitFlushAsync(ValueTask<FlushResult> flush, TimeSpan stallTimeout, Action<FlushEnd> flushed)
        {
            FlushEnd end;
            var flushing = flush.AsTask();
            try
            {
                var result = await flushing.WaitAsync(stallTimeout).ConfigureAwait(false);
                end = !result.IsCompleted && !result.IsCanceled ? FlushEnd.Sent : FlushEnd.Closed;
            }
            catch (TimeoutException)
            {
                end = FlushEnd.Stalled;
                // The abandoned flush ends once the connection is aborted, likely failed: observe it.
                _ = flushing.ContinueWith(static task => _ = task.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
            }
            catch (Exception)
            {
                end = FlushEnd.Closed;
            }
            if (!_stopped) flushed(end);
        }

        private void OnFlushed(FlushEnd end)
        {
            if (!_flushing) return;
            _flushing = false;
            if (end == FlushEnd.Stalled)
            {
                // The socket took nothing for the stall timeout: the client stopped reading. It may reconnect with its last id.
                _stage._counters.CutOne();
                _stage._abort();
                CompleteStage();
                return;
            }
            Flushed(end == FlushEnd.Sent, _inFlightMessages);
        }

        private void Flushed(bool open, int messages)
        {
            if (!open)
            {
                CompleteStage();
                return;
            }
            if (messages > 0) _stage._counters.Deliver(messages);
            if (_upstreamDone) End();
            else if (!IsClosed(_stage.In)) Pull(_stage.In);
        }

        private void OnUpstreamEnd(Exception? failure)
        {
            _failure = failure;
            _upstreamDone = true;
            if (!_flushing)
            {
                End();
            }
            else if (_stage._stop.IsCancellationRequested)
            {
                // Stopped with a send in flight: drop the connection rather than let Kestrel's closing chunk race it.
                _stage._abort();
                End();
            }
        }

        private void End()
        {
            if (_failure is { } failure) FailStage(failure);
            else CompleteStage();
        }

        private static bool IsOpen(ValueTask<FlushResult> flush)
        {
            try
            {
                var result = flush.Result;
                return !result.IsCompleted && !result.IsCanceled;
            }
            catch (Exception)
            {
                return false;
            }
        }
    }
}
