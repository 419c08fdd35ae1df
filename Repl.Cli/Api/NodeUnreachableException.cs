namespace Repl.Cli.Api;

/// <summary>Nothing answered at the node's URL (refused, unknown host, timed out).</summary>
internal sealed class NodeUnreachableException(Uri url, string reason, Exception? inner = null)
    : Exception($"cannot reach a Repl node at {url}: {reason}", inner)
{
    public Uri Url { get; } = url;

    public string Reason { get; } = reason;
}
