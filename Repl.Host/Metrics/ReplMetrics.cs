using System.Diagnostics.Metrics;

namespace Repl.Host.Metrics;

/// <summary>The host's request-path instruments: responses by status class, refusals, publish latency.</summary>
/// <remarks>
/// Made from the host's <see cref="IMeterFactory"/>, so each node (several run in one test process) has its own meter;
/// OpenTelemetry exports them at <c>/metrics</c> (see <see cref="TelemetryExtensions"/>). What the engine and the streams
/// count is read from the node when scraped (<see cref="NodeInstruments"/>).
/// </remarks>
internal sealed class ReplMetrics
{
    // One tag array per value, made once: the request path adds to a counter without allocating.
    private static readonly KeyValuePair<string, object?>[] StatusClasses =
        [.. Enumerable.Range(0, 6).Select(index => new KeyValuePair<string, object?>("code", index == 0 ? "other" : $"{index}xx"))];

    private static readonly KeyValuePair<string, object?>[] Reasons = [.. Enum.GetValues<Rejection>().Select(reason => new KeyValuePair<string, object?>("reason", ReasonLabel(reason)))];

    private static readonly KeyValuePair<string, object?> NotCommitted = new("outcome", "not_committed");
    private static readonly KeyValuePair<string, object?> Unknown = new("outcome", "unknown");

    private readonly Counter<long> _responses;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _writesFailed;
    private readonly Histogram<double> _publishDuration;

    public ReplMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(ReplTelemetry.Name);
        _responses = meter.CreateCounter<long>("repl.http.requests", "{request}", "HTTP responses by status class.");
        _rejected = meter.CreateCounter<long>("repl.rejected", "{request}", "Requests refused before their handler, by reason.");
        _writesFailed = meter.CreateCounter<long>("repl.writes.failed", "{request}",
            "Publishes and topic changes answered 503 by the log, by outcome: not_committed, or unknown (its answer was lost; it may have been committed).");
        _publishDuration = meter.CreateHistogram("repl.publish.duration", "s", "HTTP publish, from request to acknowledgement (committed and applied).",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = ReplTelemetry.LatencyBuckets });
        // Every status class and reason is a series from the start, at 0, so rate() and alerts see them before the first one.
        for (int index = 1; index <= 5; index++) _responses.Add(0, StatusClasses[index]);
        foreach (var reason in Reasons) _rejected.Add(0, reason);
        _writesFailed.Add(0, NotCommitted);
        _writesFailed.Add(0, Unknown);
    }

    public void CountResponse(int status)
    {
        int index = status / 100;
        _responses.Add(1, StatusClasses[index is >= 1 and <= 5 ? index : 0]);
    }

    public void Reject(Rejection reason) => _rejected.Add(1, Reasons[(int)reason]);

    /// <summary>Counts a write answered 503: known not committed, or of unknown outcome.</summary>
    public void WriteFailed(bool outcomeUnknown) => _writesFailed.Add(1, outcomeUnknown ? Unknown : NotCommitted);

    /// <summary>Records an acknowledged publish's time from request to acknowledgement.</summary>
    public void Published(TimeSpan elapsed) => _publishDuration.Record(elapsed.TotalSeconds);

    private static string ReasonLabel(Rejection reason) => reason switch
    {
        Rejection.Unauthorized => "unauthorized",
        Rejection.Forbidden => "forbidden",
        Rejection.RateLimited => "rate_limited",
        Rejection.StreamsPerIp => "streams_per_ip",
        Rejection.MaxStreams => "max_streams",
        _ => reason.ToString(),
    };
}
