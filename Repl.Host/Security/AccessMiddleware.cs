using System.Diagnostics;
using Repl.Host.Api;
using Repl.Host.Metrics;
using Repl.Host.Node;

namespace Repl.Host.Security;

/// <summary>
/// Runs before every route handler: checks the token against what the route needs (see <see cref="RouteAccess"/>),
/// then the limits (publish rate, streams per address, open streams), and times publishes.
/// </summary>
/// <remarks>
/// Refusals are the API's JSON errors: 401 (no token, or a bad one: <c>WWW-Authenticate: Bearer</c>), 403 (a topic not
/// granted), 429 (rate or per-address stream limit, with <c>Retry-After</c> for the rate), 503 (the node's stream limit).
/// </remarks>
internal sealed class AccessMiddleware(RequestDelegate next, TokenValidator tokens, LimitsOptions limits, PublishRateLimiter rate,
    StreamsPerIp streamsPerIp, ReplNode node, ReplMetrics metrics, ILogger<AccessMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint() is not { } endpoint)
        {
            await next(context);
            return;
        }
        var access = RouteAccess.For(context, endpoint, tokens.Options);
        Grants? grants = null;
        if (tokens.Enabled && access.Permission != Permission.None)
        {
            (bool allowed, grants) = await AuthorizeAsync(context, access);
            if (!allowed) return;
        }

        if (access.IsPublish && rate.Enabled)
        {
            string publisher = grants?.Subject is { } subject ? "sub:" + subject : "ip:" + Address(context);
            if (!rate.TryAcquire(publisher, out var retryAfter))
            {
                metrics.Reject(Rejection.RateLimited);
                int seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await ApiError.WriteAsync(context, StatusCodes.Status429TooManyRequests, "rate limited",
                    $"more than {limits.PublishPerSecond} publishes per second from this publisher (Limits:PublishPerSecond); retry after {seconds} s");
                return;
            }
        }

        if (access.IsStream)
        {
            await StreamAsync(context);
            return;
        }
        if (access.IsPublish)
        {
            long started = Stopwatch.GetTimestamp();
            await next(context);
            if (context.Response.StatusCode < 300) metrics.Published(Stopwatch.GetElapsedTime(started));
            return;
        }
        await next(context);
    }

    private async Task StreamAsync(HttpContext context)
    {
        if (limits.MaxStreams > 0 && node.Streams.Open >= limits.MaxStreams)
        {
            metrics.Reject(Rejection.MaxStreams);
            context.Response.Headers.RetryAfter = "5";
            await ApiError.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "too many streams",
                $"this node has {limits.MaxStreams} open streams, its limit (Limits:MaxStreams); retry later or on another node");
            return;
        }
        string address = Address(context);
        if (!streamsPerIp.TryEnter(address, limits.MaxStreamsPerIp))
        {
            metrics.Reject(Rejection.StreamsPerIp);
            await ApiError.WriteAsync(context, StatusCodes.Status429TooManyRequests, "too many streams",
                $"this client address has {limits.MaxStreamsPerIp} open streams, the limit (Limits:MaxStreamsPerIp); close one or follow several topics in one stream (/sse?topic=a&topic=b)");
            return;
        }
        try
        {
            await next(context);
        }
        finally
        {
            streamsPerIp.Exit(address);
        }
    }

    /// <summary>Checks the token; on refusal the response is written and <c>allowed</c> is false.</summary>
    private async Task<(bool Allowed, Grants? Grants)> AuthorizeAsync(HttpContext context, RouteAccess access)
    {
        var options = tokens.Options;
        Grants? grants = null;
        if (tokens.Find(context) is { } token)
        {
            (grants, string? refusal) = await tokens.ValidateAsync(token);
            if (grants is null)
            {
                logger.LogDebug("Refused a token on {Method} {Path}: {Refusal}", context.Request.Method, context.Request.Path, refusal);
                await RefuseAsync(context, 401, "invalid token", refusal!, "Bearer error=\"invalid_token\"", Rejection.Unauthorized);
                return (false, null);
            }
        }

        bool anonymous = access.Permission switch
        {
            Permission.Publish => options.AnonymousPublish,
            Permission.Subscribe => options.AnonymousSubscribe,
            _ => false,
        };
        string what = access.Permission switch
        {
            Permission.Publish => "publish",
            Permission.Subscribe => "subscribe",
            _ => "admin",
        };
        if (grants is null && !anonymous)
        {
            await RefuseAsync(context, 401, "unauthorized",
                $"this route needs a token with {what} rights: send Authorization: Bearer <token>, ?access_token=<token> or the '{options.Cookie}' cookie",
                "Bearer realm=\"repl\"", Rejection.Unauthorized);
            return (false, null);
        }

        if (access.Permission == Permission.Admin)
        {
            if (grants is { Admin: true }) return (true, grants);
            await RefuseAsync(context, 403, "forbidden", "this route needs a token with \"repl.admin\": true", "Bearer error=\"insufficient_scope\"", Rejection.Forbidden);
            return (false, grants);
        }

        if (!anonymous && grants is { Admin: false })
        {
            // Null when the request names no topic the way its handler reads it (no ?topic=, no "name"): the handler answers 400.
            var topics = await access.TopicsAsync(context, limits.MaxBodyBytes) ?? [];
            if (topics.FirstOrDefault(topic => !grants.Allows(access.Permission, topic)) is { } denied)
            {
                string claim = access.Permission == Permission.Publish ? Grants.PublishClaim : Grants.SubscribeClaim;
                await RefuseAsync(context, 403, "forbidden", $"the token does not grant {what} on topic '{denied}' (claim {claim})", "Bearer error=\"insufficient_scope\"", Rejection.Forbidden);
                return (false, grants);
            }
        }

        if (access.IsStream && grants?.Expires is { } expires)
        {
            // The stream ends when the token stops being accepted: its exp, plus the same clock skew validation allows.
            context.Items[StreamEndpoints.StreamExpiry] = expires + options.ClockSkew;
        }
        return (true, grants);
    }

    private async Task RefuseAsync(HttpContext context, int status, string error, string cause, string challenge, Rejection reason)
    {
        metrics.Reject(reason);
        context.Response.Headers.WWWAuthenticate = challenge;
        await ApiError.WriteAsync(context, status, error, cause);
    }

    internal static string Address(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
}
