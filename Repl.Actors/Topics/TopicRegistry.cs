using System.Collections.Concurrent;

using Repl.Actors.Storage;

namespace Repl.Actors.Topics;

/// <summary>
/// The topics this node has applied, and how far along the log it has applied.
/// </summary>
/// <remarks>Written only by the node's <see cref="Log.LogReader"/>; read by everyone.</remarks>
public sealed class TopicRegistry
{
    /// <summary>The registry as the journal left it: its topics, applied up to its last position.</summary>
    public static TopicRegistry Load(Journal journal, TopicsOptions options)
    {
        var registry = new TopicRegistry { Epoch = journal.Epoch };
        foreach (var topic in journal.LoadTopics())
        {
            registry.Add(new TopicActor(topic.Name, topic.Created, topic.TrimmedThrough, options.MemoryWindow, journal.LastPosition));
        }
        registry.Advance(journal.LastPosition, []);
        return registry;
    }

    private readonly ConcurrentDictionary<string, TopicActor> _topics = new(StringComparer.Ordinal);
    private readonly PriorityQueue<Action, long> _waiters = new();
    private readonly List<Action> _due = [];
    private readonly Lock _waitersGate = new();
    private readonly Dictionary<long, long> _resolved = [];
    private readonly Queue<long> _resolvedOrder = new();
    private int _anyResolved;
    private long _applied;

    /// <summary>How many resolved publishes (skipped, or duplicates) <see cref="Resolve"/> remembers, the most recent ones.</summary>
    /// <remarks>
    /// It is asked right after the publish is applied, so this only has to cover the moment between the apply and an
    /// acknowledgement; a flood of publishes to deleted topics that overran it would get 201 for its oldest skips.
    /// </remarks>
    internal const int ResolvedKept = 16_384;

    /// <summary>
    /// The identity of the log this node applies, in every stream id. Standalone: the journal's. Cluster mode: etcd's,
    /// set by the node before its reader applies anything (<see cref="UseEpoch"/>).
    /// </summary>
    public Messages.LogEpoch Epoch { get; private set; } = Messages.LogEpoch.Of(0);

    /// <summary>Cluster mode: the log's epoch as etcd holds it; called before the first entry is applied.</summary>
    public void UseEpoch(Messages.LogEpoch epoch) => Epoch = epoch;

    /// <summary>Position of the last entry applied on this node. Every frame at or before it is in place.</summary>
    public long AppliedPosition => Volatile.Read(ref _applied);

    /// <summary>Topics by name, internal ones included.</summary>
    public ICollection<TopicActor> All => _topics.Values;

    public bool TryGet(string name, out TopicActor topic) => _topics.TryGetValue(name, out topic!);

    /// <summary>Completes once the entry at <paramref name="position"/> has been applied here.</summary>
    public Task WaitAppliedAsync(long position)
    {
        if (position <= AppliedPosition) return Task.CompletedTask;
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
        if (position > AppliedPosition)
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

    internal void Add(TopicActor topic) => _topics[topic.Name] = topic;

    internal void Remove(string name) => _topics.TryRemove(name, out _);

    /// <summary>
    /// The answer for the publish committed at <paramref name="position"/>: 0 when it was skipped (its topic did not
    /// exist at that point in the log: deleted, or never created), the earlier position of the same idempotency key when
    /// it was a duplicate, else the position itself. Asked once the position has been applied.
    /// </summary>
    public long Resolve(long position)
    {
        if (Volatile.Read(ref _anyResolved) == 0) return position;
        lock (_waitersGate) return _resolved.TryGetValue(position, out long answer) ? answer : position;
    }

    /// <summary>Log reader only: publishes the new watermark and the publishes it skipped or deduplicated, then runs the callbacks that waited for it.</summary>
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
