namespace Repl.Actors.Cluster.Etcd;

/// <summary>Keeps an etcd lease alive in the background and signals when it is lost.</summary>
/// <remarks>
/// <para>
/// Renews every TTL/3. The lease counts as lost when etcd says it no longer exists
/// (expired or revoked elsewhere) or when no renewal has succeeded for a whole TTL —
/// from then on etcd may have expired it and deleted its keys, so whoever holds
/// the lease (a membership key, a lock) must act as if it had.
/// </para>
/// <para>
/// Loss is signalled once, through <see cref="LostToken"/> and <see cref="Lost"/>.
/// Disposing stops renewal and revokes the lease (best effort), so its keys go at once
/// rather than after the TTL.
/// </para>
/// </remarks>
public sealed class LeaseKeeper : IAsyncDisposable
{
    private readonly EtcdClient _client;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _lost = new();
    private readonly TaskCompletionSource<Exception> _lostReason = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;
    private int _disposed;

    /// <summary>Starts keeping <paramref name="leaseId"/> alive.</summary>
    /// <param name="client">The client to renew through.</param>
    /// <param name="leaseId">A granted lease.</param>
    /// <param name="ttl">The TTL the lease was granted with.</param>
    /// <param name="timeProvider">Clock; the system clock when null.</param>
    public LeaseKeeper(EtcdClient client, long leaseId, TimeSpan ttl, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        _client = client;
        _time = timeProvider ?? TimeProvider.System;
        LeaseId = leaseId;
        Ttl = ttl;
        LostToken = _lost.Token;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>The lease kept alive.</summary>
    public long LeaseId { get; }

    /// <summary>The lease's TTL.</summary>
    public TimeSpan Ttl { get; }

    /// <summary>Cancelled when the lease is lost.</summary>
    public CancellationToken LostToken { get; }

    /// <summary>Completes with the reason when the lease is lost; never completes if it is not.</summary>
    public Task<Exception> Lost => _lostReason.Task;

    /// <summary>True once the lease is lost.</summary>
    public bool IsLost => _lostReason.Task.IsCompleted;

    private async Task RunAsync()
    {
        var interval = Ttl / 3;
        var retry = Ttl / 10 < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : Ttl / 10;

        // Measured from before the request, so the deadline is never later than etcd's own.
        var expiresAt = _time.GetTimestamp() + (long)(Ttl.TotalSeconds * _time.TimestampFrequency);
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var sentAt = _time.GetTimestamp();
                TimeSpan delay;
                try
                {
                    var remaining = await _client.LeaseKeepAliveOnceAsync(LeaseId, token).ConfigureAwait(false);
                    if (remaining <= TimeSpan.Zero)
                    {
                        MarkLost(new EtcdException($"etcd lease {LeaseId:x} no longer exists (expired or revoked)."));
                        return;
                    }

                    expiresAt = sentAt + (long)(remaining.TotalSeconds * _time.TimestampFrequency);
                    delay = interval;
                }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    if (_time.GetTimestamp() >= expiresAt)
                    {
                        MarkLost(new EtcdException($"etcd lease {LeaseId:x} could not be renewed within its TTL of {Ttl.TotalSeconds:0.#} s.", e));
                        return;
                    }

                    delay = retry;
                }

                // Never sleep past the point where the lease may already be gone.
                var untilExpiry = _time.GetElapsedTime(_time.GetTimestamp(), expiresAt);
                await Task.Delay(delay < untilExpiry ? delay : (untilExpiry > TimeSpan.Zero ? untilExpiry : TimeSpan.Zero), _time, token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private void MarkLost(Exception reason)
    {
        if (_lostReason.TrySetResult(reason))
        {
            _lost.Cancel();
        }
    }

    /// <summary>Stops renewing and revokes the lease (best effort).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        if (!IsLost)
        {
            try
            {
                await _client.LeaseRevokeAsync(LeaseId).ConfigureAwait(false);
            }
            catch (EtcdException)
            {
                // Best effort: an unrevoked lease still expires after its TTL.
            }
        }

        _stop.Dispose();
    }
}
