using Repl.Host.Contract;

namespace Repl.Host.Metrics;

/// <summary>
/// Gives every request an id (<c>X-Request-Id</c>: the caller's when it is sane, else a new one), echoes it,
/// opens a logging scope with it, and counts the response by status class.
/// </summary>
internal sealed class RequestIdMiddleware(RequestDelegate next, ReplMetrics metrics, ILogger<RequestIdMiddleware> logger)
{
    public const string Header = "X-Request-Id";

    public Task InvokeAsync(HttpContext context)
    {
        string id = Accept(context.Request.Headers[Header].ToString()) ?? NewId();
        context.TraceIdentifier = id;
        context.Response.Headers[Header] = id;
        return context.GetEndpoint()?.Metadata.GetMetadata<TrafficMetadata>() is { IsPublish: false } && ExecutionContext.Capture() is { } outside
            ? Stream(context, id, outside)
            : CountedAsync(context, id);
    }

    private async Task CountedAsync(HttpContext context, string id)
    {
        using var scope = logger.BeginScope(new RequestScope(id));
        try
        {
            await next(context);
        }
        finally
        {
            metrics.CountResponse(context.Response.StatusCode);
        }
    }

    /// <summary>
    /// A stream's request lasts the stream's life: not awaited by an async method, whose state machine (120 B) would be
    /// held as long. Its response is counted once it has completed.
    /// </summary>
    /// <param name="outside">The execution context before the scope, put back (the very object) once the stream has
    /// started, as an async method's start does: Kestrel holds it while the stream runs, and disposing the scope would
    /// make an equal one (72 B a stream). What the start awaits still runs in the scope.</param>
    private Task Stream(HttpContext context, string id, ExecutionContext outside)
    {
        context.Response.OnCompleted(_count ??= CountAsync, context);
        logger.BeginScope(new RequestScope(id));
        try
        {
            return next(context);
        }
        finally
        {
            ExecutionContext.Restore(outside);
        }
    }

    // One delegate for the node.
    private Func<object, Task>? _count;

    private Task CountAsync(object context)
    {
        metrics.CountResponse(((HttpContext)context).Response.StatusCode);
        return Task.CompletedTask;
    }

    /// <summary>
    /// A new id: this process's random 64-bit prefix and a counter, as 32 hex digits (the shape of a GUID's "N" form).
    /// </summary>
    /// <remarks>
    /// <c>Guid.NewGuid</c> reads the kernel's random source on every call: a system call per request, ~3 % of the
    /// publish path's CPU on this VM (bench S5). Ids stay unique across nodes and restarts through the prefix.
    /// </remarks>
    internal static string NewId() => string.Create(32, Interlocked.Increment(ref _requests), static (chars, count) =>
    {
        Prefix.TryFormat(chars, out _, "x16", System.Globalization.CultureInfo.InvariantCulture);
        count.TryFormat(chars[16..], out _, "x16", System.Globalization.CultureInfo.InvariantCulture);
    });

    private static readonly ulong Prefix = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
    private static ulong _requests;

    /// <summary>An incoming id is kept when it is 1–128 characters of letters, digits and <c>-_.:</c> (safe in logs and headers).</summary>
    internal static string? Accept(string value)
    {
        if (value.Length is 0 or > 128) return null;
        foreach (char c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')) return null;
        }
        return value;
    }

    /// <summary>The scope's state: one <c>RequestId</c> property for structured loggers, and readable text for the console.</summary>
    private sealed class RequestScope(string id) : IReadOnlyList<KeyValuePair<string, object>>
    {
        public KeyValuePair<string, object> this[int index] => index == 0 ? new("RequestId", id) : throw new ArgumentOutOfRangeException(nameof(index));

        public int Count => 1;

        public IEnumerator<KeyValuePair<string, object>> GetEnumerator()
        {
            yield return this[0];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => "RequestId:" + id;
    }
}
