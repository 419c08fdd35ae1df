using System.Threading.RateLimiting;
using Repl.Host.Api;

namespace Repl.Host.Security;

/// <summary>
/// <c>Limits:PublishPerSecond</c>: a token bucket per publisher (the token's <c>sub</c>, else the client address).
/// </summary>
/// <remarks>
/// The bucket holds <c>Limits:PublishBurst</c> permits (default: one second's worth) and refills ten times a second,
/// so a steady publisher at the rate is never refused. A batch publish takes one permit.
/// </remarks>
internal sealed class PublishRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string>? _limiter;

    public PublishRateLimiter(LimitsOptions limits)
    {
        if (limits.PublishPerSecond <= 0) return;
        int perTick = (int)Math.Ceiling(limits.PublishPerSecond / 10.0);
        var options = new TokenBucketRateLimiterOptions
        {
            TokenLimit = limits.PublishBurst > 0 ? limits.PublishBurst : Math.Max(1, limits.PublishPerSecond),
            TokensPerPeriod = perTick,
            ReplenishmentPeriod = TimeSpan.FromSeconds(perTick / (double)limits.PublishPerSecond),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        _limiter = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => options));
    }

    public bool Enabled => _limiter is not null;

    /// <summary>Takes a permit; on refusal, how long until one is likely free.</summary>
    public bool TryAcquire(string publisher, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (_limiter is null) return true;
        using var lease = _limiter.AttemptAcquire(publisher);
        if (lease.IsAcquired) return true;
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        return false;
    }

    public void Dispose() => _limiter?.Dispose();
}
