namespace Repl.Host.Api;

/// <summary>Request limits (configuration section <c>Limits</c>).</summary>
public sealed class LimitsOptions
{
    /// <summary>Largest request body, in bytes; larger gets 413.</summary>
    public long MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Most messages in one batch publish.</summary>
    public int MaxBatch { get; set; } = 1000;

    /// <summary>Most topics one stream may follow.</summary>
    public int MaxTopicsPerStream { get; set; } = 64;

    /// <summary>Most messages one history read returns.</summary>
    public int MaxHistoryPage { get; set; } = 1000;

    /// <summary>Most open streams from one client address; more get 429.</summary>
    public int MaxStreamsPerIp { get; set; } = 1000;

    /// <summary>Most open streams on the node; more get 503. 0: no limit.</summary>
    public int MaxStreams { get; set; }

    /// <summary>Publish requests per second per publisher (token <c>sub</c>, else client address); more get 429. 0: off.</summary>
    public int PublishPerSecond { get; set; }

    /// <summary>Publishes a publisher may send at once before the rate applies. 0: one second's worth.</summary>
    public int PublishBurst { get; set; }

    /// <summary>Most open TCP connections (Kestrel <c>MaxConcurrentConnections</c>); more are refused. Unset: no limit.</summary>
    public long? MaxConnections { get; set; }
}
