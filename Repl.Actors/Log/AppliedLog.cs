namespace Repl.Actors.Log;

/// <summary>
/// How far this node has applied the log: the watermark, the callbacks waiting for it, and the answers for the
/// publishes the node's log reader skipped.
/// </summary>
/// <remarks>
/// Written only by the node's log reader; read by everyone. Apart from the topics (<c>TopicRegistry</c> holds one)
/// so that the batcher, which acknowledges publishes once they are applied, needs this and not the topics.
/// </remarks>
public sealed class AppliedLog
{
    private readonly PriorityQueue<Action, long> _waiters = new();
    private readonly List<Action> _due = [];
    private readonly Lock _waitersGate = new();
    private readonly Dictionary<long, long> _resolved = [];
    private readonly Queue<long> _resolvedOrder = new();
    private int _anyResolved;
    private long _applied;

    /// <summary>How many skipped publishes <see cref="Resolve"/> remembers, the most recent ones.</summary>
    /// <remarks>
    /// It is asked right after the publish is applied, so this only has to cover the moment between the apply and an
    /// acknowledgement; a flood of publishes to deleted topics that overran it would get 201 for its oldest skips.
    /// </remarks>
    internal const int ResolvedKept = 16_384;

    /// <summary>Position of the last entry applied on this node. Every frame at or before it is in place.</summary>
    public long Position => Volatile.Read(ref _applied);

    /// <summary>Completes once the entry at <paramref name="position"/> has been applied here.</summary>
    public Task WaitAsync(long position)
    {
        if (position <= Position) return Task.CompletedTask;
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        WhenApplied(position, waiter.SetResult);
        return waiter.Task;
    }

    /// <summary>
    /// Runs <paramref name="callback"/> once the entry at <paramref name="position"/> has been applied here: at once
    /// if it already is, else on the log reader, before that batch's subscribers are woken.
    /// </summary>
    /// <remarks>
    /// The sequencer acknowledges publishes this way: acknowledgements are queued ahead of the fan-out work of
    /// the same batch, so a publisher does not wait behind a round of writes to every subscriber. The callback
    /// must be short and must not block (completing a task whose continuations run asynchronously is fine).
    /// </remarks>
    public void WhenApplied(long position, Action callback)
    {
        if (position > Position)
        {
            lock (_waitersGate)
            {
                if (position > _applied)
                {
                    _waiters.Enqueue(callback, position);
                    return;
                }
            }
        }
        callback();
    }

    /// <summary>
    /// The answer for the publish committed at <paramref name="position"/>: 0 when it was skipped (its topic did not
    /// exist at that point in the log: deleted, or never created), else the position itself. Asked once the position
    /// has been applied.
    /// </summary>
    public long Resolve(long position)
    {
        if (Volatile.Read(ref _anyResolved) == 0) return position;
        lock (_waitersGate) return _resolved.TryGetValue(position, out long answer) ? answer : position;
    }

    /// <summary>Log reader only: publishes the new watermark and the publishes it skipped, then runs the callbacks that waited for it.</summary>
    internal void Advance(long position, IReadOnlyList<(long Position, long Answer)> resolved)
    {
        lock (_waitersGate)
        {
            for (int i = 0; i < resolved.Count; i++)
            {
                _resolved[resolved[i].Position] = resolved[i].Answer;
                _resolvedOrder.Enqueue(resolved[i].Position);
                if (_resolvedOrder.Count > ResolvedKept) _resolved.Remove(_resolvedOrder.Dequeue());
            }
            if (resolved.Count > 0) Volatile.Write(ref _anyResolved, 1);
            Volatile.Write(ref _applied, position);
            while (_waiters.TryPeek(out var callback, out long waitingFor) && waitingFor <= position)
            {
                _waiters.Dequeue();
                _due.Add(callback);
            }
        }
        foreach (var callback in _due) callback();
        _due.Clear();
    }
}
