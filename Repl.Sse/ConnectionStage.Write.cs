using System.IO.Pipelines;

namespace Repl.Sse;

internal sealed partial class ConnectionStage
{
    /// <summary>The writes: a round written and flushed inline, a flush that waits, and the stream's end.</summary>
    private sealed partial class Logic
    {
        private Exception? _failure;
        private int _inFlightMessages;
        private bool _flushing;
        // The stream has ended as far as it is concerned: it writes nothing more, and stops once no flush is in flight.
        private bool _ending;
        // Set in PostStop: a flush that ends after it tells nobody.
        private volatile bool _stopped;

        /// <summary>
        /// Writes <paramref name="round"/> and flushes it, with no await in between. True when the flush completed at
        /// once and the stream goes on; false when it waits (its end comes back through the callback) or the stream ended.
        /// </summary>
        private bool Send(WriteRound round)
        {
            Volatile.Write(ref _scheduled, 1);
            Volatile.Write(ref _lastPushMs, Environment.TickCount64);
            PastWindow();
            int messages = round.Messages;
            ValueTask<FlushResult> flush;
            try
            {
                round.WriteTo(_writer);
                flush = _writer.FlushAsync();
            }
            catch (Exception error) when (error is IOException or InvalidOperationException or OperationCanceledException)
            {
                // The response is over (Kestrel completed or aborted it): the client is gone.
                Stop();
                return false;
            }
            if (flush.IsCompleted) return Flushed(IsOpen(flush), messages);
            _flushing = true;
            _stage._counters.FlushWaited();
            _inFlightMessages = messages;
            _ = AwaitFlushAsync(flush, _stage._options.StallTimeout);
            return false;
        }

        /// <summary>Writes the stream's last round, then ends it (once its flush is done).</summary>
        private void SendLast(WriteRound round)
        {
            Send(round);
            Stop();
        }

        /// <summary>Off the streams' thread: waits for a flush, at most the stall timeout, and tells the stage how it ended.</summary>
        private async Task AwaitFlushAsync(ValueTask<FlushResult> flush, TimeSpan stallTimeout)
        {
            StreamSignal end;
            var flushing = flush.AsTask();
            try
            {
                var result = await flushing.WaitAsync(stallTimeout).ConfigureAwait(false);
                end = !result.IsCompleted && !result.IsCanceled ? StreamSignal.Sent : StreamSignal.Closed;
            }
            catch (TimeoutException)
            {
                end = StreamSignal.Stalled;
                // The abandoned flush ends once the connection is aborted, likely failed: observe it.
                _ = flushing.ContinueWith(static task => _ = task.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
            }
            catch (Exception)
            {
                end = StreamSignal.Closed;
            }
            if (!_stopped) _callback(end);
        }

        /// <summary>A flush that waited has ended (<see cref="StreamSignal.Sent"/>, <see cref="StreamSignal.Closed"/> or <see cref="StreamSignal.Stalled"/>).</summary>
        private void OnFlushed(StreamSignal end)
        {
            if (!_flushing) return;
            _flushing = false;
            if (end == StreamSignal.Stalled)
            {
                // The socket took nothing for the stall timeout: the client stopped reading. It may reconnect with its last id.
                _stage._counters.CutOne();
                _abort();
                Stop();
                return;
            }
            if (Flushed(end == StreamSignal.Sent, _inFlightMessages)) Emit();
        }

        /// <summary>A round's flush is done: counts it delivered if the client is still there. True when the stream goes on.</summary>
        private bool Flushed(bool open, int messages)
        {
            if (!open)
            {
                // The response is over: the client is gone.
                Stop();
                return false;
            }
            if (messages > 0) _stage._counters.Deliver(messages);
            if (!_ending) return true;
            Stop();
            return false;
        }

        /// <summary>
        /// Ends the stream: at once if no flush is in flight; else once it is done — or at once, with the connection
        /// aborted, when the stop token has fired (rather than let Kestrel's closing chunk race our send).
        /// </summary>
        private void Stop(Exception? failure = null)
        {
            _failure ??= failure;
            _ending = true;
            if (!_flushing)
            {
                CompleteStage();
            }
            else if (_stop.IsCancellationRequested)
            {
                _abort();
                CompleteStage();
            }
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
