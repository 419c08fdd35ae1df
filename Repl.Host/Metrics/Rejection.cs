namespace Repl.Host.Metrics;

/// <summary>Why a request was refused before its handler ran (the <c>reason</c> of <c>repl_rejected_total</c>).</summary>
internal enum Rejection
{
    Unauthorized,
    Forbidden,
    RateLimited,
    StreamsPerIp,
    MaxStreams,
}
