namespace Repl.Host.Contract;

/// <summary>
/// Endpoint metadata: which limits of <see cref="Security.LimitsMiddleware"/> apply to a route, and whether its request lasts a
/// stream's life (the middlewares then await nothing of it: see <see cref="Metrics.RequestIdMiddleware"/>).
/// </summary>
internal sealed class TrafficMetadata
{
    private TrafficMetadata(bool isPublish) => IsPublish = isPublish;

    /// <summary>A publish: the publish rate (<c>Limits:PublishPerSecond</c>) and its latency histogram.</summary>
    public static TrafficMetadata Publish { get; } = new(isPublish: true);

    /// <summary>A stream: the open-stream limits, and the end of the stream when the token expires.</summary>
    public static TrafficMetadata Stream { get; } = new(isPublish: false);

    public bool IsPublish { get; }
}
