namespace Repl.Host.Contract;

/// <summary>
/// When a stream must end, as the checks that run before its route decide it (a token's expiry, say), kept in
/// <c>HttpContext.Items</c> for the route. The earliest of several wins.
/// </summary>
internal static class StreamExpiry
{
    private const string Key = "repl.stream-expiry";

    public static void Limit(HttpContext context, DateTimeOffset at)
    {
        if (Of(context) is not { } earlier || at < earlier) context.Items[Key] = at;
    }

    public static DateTimeOffset? Of(HttpContext context) => context.Items.TryGetValue(Key, out var at) ? (DateTimeOffset?)at : null;
}
