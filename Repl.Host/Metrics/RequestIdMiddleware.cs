namespace Repl.Host.Metrics;

/// <summary>
/// Gives every request an id (<c>X-Request-Id</c>: the caller's when it is sane, else a new one), echoes it,
/// opens a logging scope with it, and counts the response by status class.
/// </summary>
internal sealed class RequestIdMiddleware(RequestDelegate next, ReplMetrics metrics, ILogger<RequestIdMiddleware> logger)
{
    public const string Header = "X-Request-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        string id = Accept(context.Request.Headers[Header].ToString()) ?? Guid.NewGuid().ToString("N");
        context.TraceIdentifier = id;
        context.Response.Headers[Header] = id;
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
