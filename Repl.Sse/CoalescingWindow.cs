using System.Collections.Concurrent;

namespace Repl.Sse;

/// <summary>
/// The node's coalescing window: streams that wrote less than <see cref="SseOptions.CoalesceWindow"/> ago are held
/// here and released together at the next tick, so one write carries everything that arrived meanwhile.
/// </summary>
/// <remarks>
/// <para>Not a stage timer per stream: Akka's scheduler has a 10 ms tick and refuses a shorter one ("minimum supported
/// akka.scheduler.tick-duration ... is 10ms"), so a 5 ms window became 10–20 ms. Measured with bench S3 (1,000 streams,
/// 200 messages/s, noisy shared machine): p99 109 ms with a stage timer per held stream against 38 ms before the graphs.</para>
/// <para>Not a timer on the thread pool either: under overload the pool is full of publish requests, and a tick queued
/// behind them came every 200 ms instead of 5 (bench S2: each stream wrote ~4 times a second, fell behind its topic's
/// ring and read the journal). One thread of its own for the node, which only sleeps and hands each held stream to the
/// streams' host (<see cref="StreamHost.Handle.Wake(Action{object}, object)"/>, no blocking).</para>
/// </remarks>
internal sealed class CoalescingWindow : IDisposable
{
    private readonly ConcurrentQueue<Action<object>> _held = new();
    private readonly StreamHost.Handle _host;
    private volatile bool _stopped;

    /// <param name="host">Where a held stream is woken at the window's end.</param>
    public CoalescingWindow(TimeSpan window, StreamHost.Handle host)
    {
        Window = window;
        _host = host;
        if (window > TimeSpan.Zero) new Thread(() => Run(window)) { IsBackground = true, Name = "repl-sse-window" }.Start();
    }

    /// <summary>Zero: streams are never held.</summary>
    public TimeSpan Window { get; }

    /// <summary>At the window's next tick, wakes the stage whose async callback is <paramref name="callback"/> with <see cref="StreamSignal.WindowEnd"/>, through the host.</summary>
    public void Hold(Action<object> callback) => _held.Enqueue(callback);

    private void Run(TimeSpan window)
    {
        while (!_stopped)
        {
            Thread.Sleep(window);
            // Only those held before this tick: a stream held again meanwhile waits for the next one.
            int count = _held.Count;
            for (int i = 0; i < count && _held.TryDequeue(out var callback); i++) _host.Wake(callback, StreamSignal.WindowEnd);
        }
        while (_held.TryDequeue(out var callback)) _host.Wake(callback, StreamSignal.WindowEnd);
    }

    public void Dispose() => _stopped = true;
}
