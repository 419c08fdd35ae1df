namespace Repl.Host.Contract;

/// <summary>How a request names its topics in the query string, read alike by the stream route and its authorization.</summary>
internal static class RequestTopics
{
    /// <summary>Every <c>topic</c> parameter, each split on commas: <c>?topic=a,b&amp;topic=c</c> names a, b and c.</summary>
    public static string[] FromQuery(HttpRequest request) =>
        [.. request.Query["topic"].SelectMany(value => (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))];
}
