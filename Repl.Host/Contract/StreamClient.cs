using Repl.Host.Metrics;

namespace Repl.Host.Contract;

/// <summary>
/// A stream's client id: the subscribe hook's <c>client</c>, the events hook's, and the presence routes'. Unique in the
/// cluster: the request id when the node drew it (<see cref="RequestIdMiddleware.NewId"/>: a random per-process prefix
/// and a counter), else a new one, since a caller's own <c>X-Request-Id</c> may be anything, another stream's included.
/// </summary>
internal static class StreamClient
{
    private const string Item = "repl.stream-client";

    public static string IdOf(HttpContext context)
    {
        if (context.Items[Item] is string id) return id;
        bool callerChose = RequestIdMiddleware.Accept(context.Request.Headers[RequestIdMiddleware.Header].ToString()) is not null;
        id = callerChose ? RequestIdMiddleware.NewId() : context.TraceIdentifier;
        context.Items[Item] = id;
        return id;
    }
}
