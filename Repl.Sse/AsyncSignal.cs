using System.Threading.Tasks.Sources;

namespace Repl.Sse;

/// <summary>
/// A wake-up for one waiter that coalesces: any number of <see cref="Set"/> calls before a wait wake it once.
/// </summary>
/// <remarks>
/// Allocation-free (a reusable <see cref="IValueTaskSource"/>) and timer-free: a sink waits on it for every
/// batch, so a SemaphoreSlim wait with a timeout (a Task, a timer registration and a linked token per wait)
/// was the largest per-round cost in fan-out. Timeouts (pings, token expiry) come from the node's heartbeat
/// instead, which calls <see cref="Set"/>. Continuations run on the thread pool, never on the setter's thread
/// (the applier must not end up writing sockets), except for <see cref="FanOut"/>'s thread, which asks to run
/// them itself.
/// </remarks>
internal sealed class AsyncSignal : IValueTaskSource
{
    private const int Idle = 0, Signaled = 1, Waiting = 2;
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private int _state;

    /// <param name="inline">Run the waiter's continuation on this thread, now, instead of queueing it to the pool.</param>
    public void Set(bool inline = false)
    {
        while (true)
        {
            switch (Volatile.Read(ref _state))
            {
                case Signaled:
                    return;
                case Idle when Interlocked.CompareExchange(ref _state, Signaled, Idle) == Idle:
                    return;
                case Waiting when Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting:
                    // Only the setter that took the waiter gets here, and the waiter resets the core only after resuming.
                    _core.RunContinuationsAsynchronously = !inline;
                    _core.SetResult(true);
                    return;
            }
        }
    }

    /// <summary>Completes at the next <see cref="Set"/>, or at once if one came since the last wait. One waiter at a time.</summary>
    public ValueTask WaitAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Signaled) == Signaled) return ValueTask.CompletedTask;
        _core.Reset();
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) != Idle)
        {
            // Set() landed between the two steps: take it.
            Volatile.Write(ref _state, Idle);
            return ValueTask.CompletedTask;
        }
        return new ValueTask(this, _core.Version);
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
