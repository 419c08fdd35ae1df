using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Repl.Host.Contract;
using Repl.Host.Metrics;

namespace Repl.Host.Security;

/// <summary>
/// Runs after authorization, for the routes that declare <see cref="TrafficMetadata"/>: the publish rate and publish
/// latency on publishes; the open-stream limits and the token's expiry on streams.
/// </summary>
/// <remarks>
/// Refusals are the API's JSON errors: 429 (rate or per-address stream limit, with <c>Retry-After</c> for the rate),
/// 503 (the node's stream limit, <c>Retry-After: 5</c>).
/// </remarks>
internal sealed class LimitsMiddleware(RequestDelegate next, LimitsOptions limits, PublishRateLimiter rate, StreamSlots slots,
    ReplMetrics metrics, IOptions<AuthOptions> auth)
{
    // Not async itself: each request would pay a state machine and a continuation more to await the one it picks.
    public Task InvokeAsync(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<TrafficMetadata>() switch
    {
        null => next(context),
        { IsPublish: true } => PublishAsync(context),
        _ => StreamAsync(context),
    };

    private async Task PublishAsync(HttpContext context)
    {
        if (rate.Enabled)
        {
            string publisher = Caller.UserOf(context) is { } subject ? "sub:" + subject : "ip:" + Address(context);
            if (!rate.TryAcquire(publisher, out var retryAfter))
            {
                metrics.Reject(Rejection.RateLimited);
                int seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await ApiError.WriteAsync(context, StatusCodes.Status429TooManyRequests, "rate limited",
                    $"more than {limits.PublishPerSecond} publishes per second from this publisher (Limits:PublishPerSecond); retry after {seconds} s");
                return;
            }
        }
        long started = Stopwatch.GetTimestamp();
        await next(context);
        if (context.Response.StatusCode < 300) metrics.Published(Stopwatch.GetElapsedTime(started));
    }

    // Not async either: a stream's request lasts the stream's life, and a method awaiting it would hold its state
    // machine (144 B) as long. Its slot is given back when the response has completed (always called, aborted or not).
    private Task StreamAsync(HttpContext context)
    {
        switch (slots.TryEnter(Address(context), limits.MaxStreams, limits.MaxStreamsPerIp))
        {
            case StreamSlots.Entry.NodeFull:
                metrics.Reject(Rejection.MaxStreams);
                context.Response.Headers.RetryAfter = "5";
                return ApiError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "too many streams",
                    $"this node has {limits.MaxStreams} open streams, its limit (Limits:MaxStreams); retry later or on another node");
            case StreamSlots.Entry.AddressFull:
                metrics.Reject(Rejection.StreamsPerIp);
                return ApiError.WriteAsync(context, StatusCodes.Status429TooManyRequests, "too many streams",
                    $"this client address has {limits.MaxStreamsPerIp} open streams, the limit (Limits:MaxStreamsPerIp); close one or follow several topics in one stream (/sse?topic=a&topic=b)");
        }
        context.Response.OnCompleted(_exit ??= ExitAsync, context);
        return auth.Value.Enabled ? LimitExpiryAsync(context) : next(context);
    }

    /// <summary>The stream ends when the token stops being accepted: its expiry, plus the clock skew validation allows.</summary>
    private async Task LimitExpiryAsync(HttpContext context)
    {
        if (await ExpiresAsync(context) is { } expires) StreamExpiry.Limit(context, expires + auth.Value.ClockSkew);
        await next(context);
    }

    // One delegate for the node; the address is read again from the request (Caller.AddressOf: nothing changes it after the proxies' middleware).
    private Func<object, Task>? _exit;

    private Task ExitAsync(object context)
    {
        slots.Exit(Address((HttpContext)context));
        return Task.CompletedTask;
    }

    /// <summary>
    /// When the caller's credential expires: the authentication result's <c>ExpiresUtc</c> (JwtBearer sets it from
    /// <c>exp</c>), else an <c>exp</c> claim; null for an anonymous caller or a token without expiry.
    /// </summary>
    private static async Task<DateTimeOffset?> ExpiresAsync(HttpContext context)
    {
        if (Caller.Authenticated(context) is not { } principal) return null;
        var result = await context.AuthenticateAsync();
        if (result.Properties?.ExpiresUtc is { } expires) return expires;
        return long.TryParse(principal.FindFirst("exp")?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
    }

    /// <summary>The client's address as the limits key it: one key for every request the transport gave no address.</summary>
    private static string Address(HttpContext context) => Caller.AddressOf(context) ?? "unknown";
}
