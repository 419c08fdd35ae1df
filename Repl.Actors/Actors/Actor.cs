using System.Threading.Channels;

namespace Repl.Actors.Actors;

/// <summary>
/// A minimal in-process actor: one mailbox and one loop that handles one message at a time.
/// </summary>
/// <remarks>
/// Supervision is "restart": when <see cref="HandleAsync"/> throws, the failure is reported through
/// <see cref="OnFailure"/> and the loop goes on with the next message. State that a failed message
/// may have left half-changed is the actor's to repair in <see cref="OnFailure"/>.
/// Actors never cross a process: there is no remoting.
/// </remarks>
public abstract class Actor<TMessage> : IAsyncDisposable
{
    private readonly Channel<TMessage> _mailbox;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    protected Actor(int capacity = 0)
    {
        _mailbox = capacity > 0
            ? Channel.CreateBounded<TMessage>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait })
            : Channel.CreateUnbounded<TMessage>(new UnboundedChannelOptions { SingleReader = true });
    }

    /// <summary>Cancelled when the actor is asked to stop.</summary>
    protected CancellationToken Stopping => _stopping.Token;

    /// <summary>Starts the loop. Calling it twice has no effect.</summary>
    public void Start() => _loop ??= Task.Run(RunAsync);

    /// <summary>Posts a message; false once the actor has stopped.</summary>
    public bool Tell(TMessage message) => _mailbox.Writer.TryWrite(message);

    /// <summary>Posts a message, waiting for room in a bounded mailbox.</summary>
    public ValueTask TellAsync(TMessage message, CancellationToken cancellationToken = default) =>
        _mailbox.Writer.WriteAsync(message, cancellationToken);

    /// <summary>Handles one message. Only ever called from the actor's loop.</summary>
    protected abstract ValueTask HandleAsync(TMessage message);

    /// <summary>Gives the actor a look at what else is already waiting, for batching.</summary>
    protected bool TryTakeNext(out TMessage message) => _mailbox.Reader.TryRead(out message!);

    /// <summary>Called when a message failed; the loop continues afterwards.</summary>
    protected virtual void OnFailure(TMessage message, Exception error) { }

    /// <summary>Called once when the loop has drained the mailbox after <see cref="DisposeAsync"/>.</summary>
    protected virtual ValueTask OnStoppedAsync() => ValueTask.CompletedTask;

    private async Task RunAsync()
    {
        var reader = _mailbox.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var message))
            {
                try
                {
                    await HandleAsync(message).ConfigureAwait(false);
                }
                catch (Exception error)
                {
                    OnFailure(message, error);
                }
            }
        }
        await OnStoppedAsync().ConfigureAwait(false);
    }

    /// <summary>Stops taking messages, lets the loop finish what is queued, then returns.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        _mailbox.Writer.TryComplete();
        _stopping.Cancel();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }
}
