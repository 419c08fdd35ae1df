namespace Repl.Sse;

/// <summary>A wake-up that coalesces: any number of <see cref="Set"/> calls before a wait wake it once.</summary>
internal sealed class AsyncSignal
{
    private readonly SemaphoreSlim _semaphore = new(0, 1);
    private int _set;

    public void Set()
    {
        if (Interlocked.Exchange(ref _set, 1) == 0) _semaphore.Release();
    }

    /// <summary>True when set, false after <paramref name="timeout"/>.</summary>
    public async ValueTask<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (!await _semaphore.WaitAsync(timeout, cancellationToken).ConfigureAwait(false)) return false;
        // Reset before the caller reads: a Set that lands after this releases the semaphore again.
        Volatile.Write(ref _set, 0);
        return true;
    }
}
