using Etcdserverpb;
using Grpc.Core;

namespace Repl.Actors.Etcd;

/// <summary>An etcd lease, granted and kept alive in the background over etcd's <c>LeaseKeepAlive</c> stream.</summary>
/// <remarks>
/// <para>Renews every TTL/3 on one stream, opened again (on whichever member the channel picks) when it breaks. The
/// lease counts as lost when etcd answers a renewal with TTL 0 (expired, or revoked elsewhere) or when no renewal has
/// succeeded for a whole TTL: from then on etcd may have expired it and deleted its keys, so the holder must act as if
/// it had (grant a new one and put its keys again).</para>
/// <para>Not dotnet-etcd's <c>LeaseKeepAlive(CancellationTokenSource, ...)</c> helper: it gives up at the first broken
/// stream (a member failing over) and cannot tell that from the lease being gone.</para>
/// <para>Disposing stops renewal and revokes the lease (best effort), so its keys go at once rather than after the TTL.</para>
/// </remarks>
public sealed class EtcdLease : IAsyncDisposable
{
    private readonly EtcdConnection _etcd;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<Exception> _lost = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;
    private int _disposed;

    private EtcdLease(EtcdConnection etcd, long id, TimeSpan ttl, TimeProvider time)
    {
        _etcd = etcd;
        _time = time;
        Id = id;
        Ttl = ttl;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>The lease id, for the keys put under it.</summary>
    public long Id { get; }

    /// <summary>The TTL etcd granted (it rounds up to whole seconds and to its minimum).</summary>
    public TimeSpan Ttl { get; }

    /// <summary>Completes with the reason when the lease is lost; never completes if it is not.</summary>
    public Task<Exception> Lost => _lost.Task;

    /// <summary>True once the lease is lost.</summary>
    public bool IsLost => _lost.Task.IsCompleted;

    /// <summary>Grants a lease of <paramref name="ttl"/> and starts keeping it alive.</summary>
    /// <exception cref="RpcException">etcd did not grant it within the request timeout.</exception>
    public static async Task<EtcdLease> GrantAsync(EtcdConnection etcd, TimeSpan ttl, TimeProvider time, CancellationToken cancellationToken)
    {
        long seconds = Math.Max(1, (long)Math.Ceiling(ttl.TotalSeconds));
        var grant = await etcd.Client.LeaseGrantAsync(new LeaseGrantRequest { TTL = seconds }, deadline: etcd.Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(grant.Error)) throw new RpcException(new Status(StatusCode.Unknown, "etcd refused the lease grant: " + grant.Error));
        return new EtcdLease(etcd, grant.ID, TimeSpan.FromSeconds(grant.TTL), time);
    }

    private async Task RunAsync()
    {
        var interval = Ttl / 3;
        var retry = Ttl / 10 < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : Ttl / 10;
        // Measured from before the request, so this deadline is never later than etcd's own.
        long expiresAt = _time.GetTimestamp() + (long)(Ttl.TotalSeconds * _time.TimestampFrequency);
        var stop = _stop.Token;
        AsyncDuplexStreamingCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse>? stream = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                long sentAt = _time.GetTimestamp();
                TimeSpan delay;
                // One renewal's round trip is bounded like any call, and an answer is worth waiting for until the lease
                // may be gone; the stream itself lives on.
                using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop))
                {
                    var left = _time.GetElapsedTime(sentAt, expiresAt);
                    var bound = _etcd.RequestTimeout < left ? _etcd.RequestTimeout : left;
                    attempt.CancelAfter(bound > retry ? bound : retry);
                    try
                    {
                        stream ??= _etcd.Client.GetConnection().LeaseClient.LeaseKeepAlive(cancellationToken: stop);
                        await stream.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = Id }, attempt.Token).ConfigureAwait(false);
                        if (!await stream.ResponseStream.MoveNext(attempt.Token).ConfigureAwait(false)) throw new RpcException(new Status(StatusCode.Unavailable, "etcd closed the keep-alive stream"));
                        var answer = stream.ResponseStream.Current;
                        if (answer.TTL <= 0)
                        {
                            MarkLost(new RpcException(new Status(StatusCode.NotFound, $"etcd lease {Id:x} no longer exists (expired or revoked)")));
                            return;
                        }
                        expiresAt = sentAt + (long)(answer.TTL * _time.TimestampFrequency);
                        delay = interval;
                    }
                    catch (Exception error) when (!stop.IsCancellationRequested && error is RpcException or OperationCanceledException or IOException or InvalidOperationException)
                    {
                        // A broken stream (or a renewal without answer) is dropped and opened again on the next try.
                        stream?.Dispose();
                        stream = null;
                        if (_time.GetTimestamp() >= expiresAt)
                        {
                            MarkLost(new TimeoutException($"etcd lease {Id:x} could not be renewed within its TTL of {Ttl.TotalSeconds:0.#} s: {error.Message}", error));
                            return;
                        }
                        delay = retry;
                    }
                }

                // Never sleep past the point where the lease may already be gone.
                var untilExpiry = _time.GetElapsedTime(_time.GetTimestamp(), expiresAt);
                await Task.Delay(delay < untilExpiry ? delay : (untilExpiry > TimeSpan.Zero ? untilExpiry : TimeSpan.Zero), _time, stop).ConfigureAwait(false);
            }
        }
        catch (Exception error) when (stop.IsCancellationRequested && error is OperationCanceledException or RpcException or IOException)
        {
            // Stopping: the stream was aborted under a read (gRPC may report that as Unavailable rather than cancelled).
        }
        finally
        {
            stream?.Dispose();
        }
    }

    private void MarkLost(Exception reason) => _lost.TrySetResult(reason);

    /// <summary>Stops renewing and revokes the lease (best effort).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        if (!IsLost)
        {
            try
            {
                await _etcd.Client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = Id }, deadline: _etcd.Deadline()).ConfigureAwait(false);
            }
            catch (RpcException)
            {
                // Best effort: an unrevoked lease still expires after its TTL.
            }
        }
        _stop.Dispose();
    }
}
