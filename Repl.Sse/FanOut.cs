using System.Collections.Concurrent;

namespace Repl.Sse;

/// <summary>
/// Runs the streams' write rounds on one dedicated thread: a notified stream's writer loop continues there,
/// synchronously, instead of as a thread-pool work item of its own. A busy stream is also held back until the
/// end of its <see cref="SseOptions.CoalesceWindow"/>, so that one write carries everything that arrived meanwhile.
/// </summary>
/// <remarks>
/// <para><b>Why one thread.</b> At 1,000 streams × 200 messages/s a round carries one message, and what a round
/// costs beside the kernel's send was scheduling: a pool work item per stream woken, queued behind (and ahead
/// of) the publish requests. Here the applier only enqueues the stream; this thread resumes each one in turn,
/// and a round whose flush completes at once (the socket took the bytes) never leaves it. A round that has to
/// wait — a full socket, a journal read — continues on the pool, so a slow client never holds this thread.
/// REPL wrote every client from its broker loop in the same way, on a fixed 100 ms tick.</para>
/// <para><b>Coalescing.</b> On loopback most of a round's cost is the kernel's (the receiver's TCP path runs on
/// the sender's core: half the server's CPU in a bench S3 profile), so fewer, fuller writes are the other lever.
/// A quiet stream is resumed at once (no added latency); a busy one at most once per window.</para>
/// </remarks>
public sealed class FanOut : IDisposable
{
    private readonly ConcurrentQueue<SseSink> _ready = new();
    private readonly ConcurrentQueue<SseSink> _held = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _thread;
    // 1 while the thread is about to sleep: only then does Schedule pay for a semaphore release (the applier
    // schedules a sink per subscriber per batch; a BlockingCollection took a lock on each).
    private int _sleeping;
    private volatile bool _stopped;

    [ThreadStatic]
    private static bool t_onThread;

    public FanOut(SseOptions options)
    {
        Window = options.CoalesceWindow;
        _thread = new Thread(Run) { IsBackground = true, Name = "repl-fanout" };
        _thread.Start();
    }

    /// <summary>The coalescing window; zero turns coalescing off.</summary>
    public TimeSpan Window { get; }

    /// <summary>True on the fan-out thread: work that may block (journal reads) moves to the pool first.</summary>
    internal static bool OnThread => t_onThread;

    internal void Schedule(SseSink sink)
    {
        _ready.Enqueue(sink);
        if (Interlocked.Exchange(ref _sleeping, 0) == 1) _wake.Release();
        if (_stopped) ResumeAllOnPool();
    }

    internal void Hold(SseSink sink) => _held.Enqueue(sink);

    /// <summary>Schedules the streams held back since the last call.</summary>
    public void Release()
    {
        int count = _held.Count;
        for (int i = 0; i < count && _held.TryDequeue(out var sink); i++) Schedule(sink);
    }

    /// <summary>Releases once per window until cancelled (a no-op loop when the window is zero).</summary>
    public async Task RunAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        if (Window <= TimeSpan.Zero) return;
        using var timer = new PeriodicTimer(Window, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false)) Release();
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Run()
    {
        t_onThread = true;
        while (!_stopped)
        {
            while (_ready.TryDequeue(out var sink)) sink.Resume(inline: true);
            Interlocked.Exchange(ref _sleeping, 1);
            // Scheduled between the drain and the flag: take it now. A release that comes anyway only costs a spare lap.
            if (!_ready.IsEmpty || _stopped)
            {
                Volatile.Write(ref _sleeping, 0);
                continue;
            }
            _wake.Wait();
        }
    }

    private void ResumeAllOnPool()
    {
        while (_ready.TryDequeue(out var sink)) sink.Resume(inline: false);
    }

    /// <summary>Stops the thread; streams notified later resume on the pool.</summary>
    public void Dispose()
    {
        _stopped = true;
        _wake.Release();
        _thread.Join();
        ResumeAllOnPool();
    }
}
