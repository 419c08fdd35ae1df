using System.Collections.Concurrent;
using Akka.Actor;
using Repl.Actors.Log;

namespace Repl.Actors.Sequencer;

/// <summary>
/// Where a node's HTTP handlers leave their publishes for the <see cref="Batcher"/>: a lock-free queue, and one message
/// to the batcher per batch rather than one per publish.
/// </summary>
/// <remarks>
/// The batcher is told only when it is not already due to look (an interlocked flag it clears before it drains), so
/// under load most publishes cost an enqueue and no actor message at all: batches, not single events, cross the
/// actor boundary (a message per publish woke the batcher's thread per publish: ~3 µs each in a bench S5 profile).
/// </remarks>
public sealed class PublishQueue
{
    private readonly ConcurrentQueue<Batcher.Publish> _queue = new();
    private IActorRef _batcher = ActorRefs.Nobody;
    private int _signalled;

    /// <summary>Queues a publish; completes with its positions (and which were retries) once committed and applied here (see <see cref="Batcher"/>).</summary>
    /// <param name="whole">
    /// All or nothing: committed only if every command's topic exists when it is cut, else every position is 0 (a
    /// broadcast). Without it each command's topic decides for that command alone.
    /// </param>
    public Task<Commit> PublishAsync(PublishCommand[] commands, bool whole = false)
    {
        var publish = new Batcher.Publish(commands, new TaskCompletionSource<Commit>(TaskCreationOptions.RunContinuationsAsynchronously), whole);
        _queue.Enqueue(publish);
        if (Interlocked.Exchange(ref _signalled, 1) == 0) _batcher.Tell(Batcher.Look.Instance);
        return publish.Completion.Task;
    }

    /// <summary>A publish handed to the batcher as a message (specs, and anything outside the node's handlers).</summary>
    internal void Enqueue(Batcher.Publish publish) => _queue.Enqueue(publish);

    /// <summary>The batcher that drains this queue; publishes queued before it was attached are drained when it starts.</summary>
    internal void Attach(IActorRef batcher) => _batcher = batcher;

    /// <summary>Batcher only: about to drain; a publish queued from now on tells it again.</summary>
    internal void Looking() => Volatile.Write(ref _signalled, 0);

    internal bool TryPeek(out Batcher.Publish publish) => _queue.TryPeek(out publish!);

    internal bool TryTake(out Batcher.Publish publish) => _queue.TryDequeue(out publish!);
}
