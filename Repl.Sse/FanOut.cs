using System.Collections.Concurrent;

namespace Repl.Sse;

/// <summary>
/// Holds back the wake-up of a stream that wrote less than <see cref="SseOptions.CoalesceWindow"/> ago, and
/// wakes all held-back streams together once per window.
/// </summary>
/// <remarks>
/// On loopback most of a fan-out round's cost is the kernel's (a send, and the receiver's TCP path runs on
/// the sender's core: 44 % of the server's CPU in a bench S3 profile). Fewer, fuller writes are the only lever.
/// A quiet stream is woken at once (no added latency); a busy one writes at most once per window, carrying
/// everything that arrived meanwhile. REPL did the same with a fixed 100 ms tick for every stream.
/// </remarks>
public sealed class WriteCoalescer(SseOptions options)
{
    private readonly ConcurrentQueue<SseSink> _held = new();

    /// <summary>The window; zero turns coalescing off.</summary>
    public TimeSpan Window => options.CoalesceWindow;

    internal void Hold(SseSink sink) => _held.Enqueue(sink);

    /// <summary>Wakes the streams held back since the last call.</summary>
    public void Release()
    {
        int count = _held.Count;
        for (int i = 0; i < count && _held.TryDequeue(out var sink); i++) sink.Wake();
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
}
