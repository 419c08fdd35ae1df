namespace Repl.Host.Security;

/// <summary>Request limits (configuration section <c>Limits</c>).</summary>
public sealed class LimitsOptions
{
    /// <summary>Largest request body, in bytes; larger gets 413.</summary>
    public long MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How much of a body over <see cref="MaxBodyBytes"/> the node still reads, and drops, after answering 413.
    /// </summary>
    /// <remarks>
    /// A client that sends its whole body before reading (no <c>Expect: 100-continue</c>) would otherwise see the
    /// connection reset, and lose the 413, when the node closes with unread bytes. Kestrel does the draining after the
    /// answer, for at most 5 seconds; a body longer than this bound cannot be drained and its connection is closed.
    /// </remarks>
    public long MaxDrainBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Longest request target (path and query), in bytes; longer gets a JSON 414.</summary>
    /// <remarks>
    /// Above <see cref="KestrelFactor"/> times this Kestrel answers 414 on its own, with an empty body. The default holds
    /// a stream of <see cref="MaxTopicsPerStream"/> topics of the longest name, with a token, in one URL.
    /// </remarks>
    public int MaxUrlBytes { get; set; } = 16 * 1024;

    /// <summary>Most request header bytes (names and values); more get a JSON 431.</summary>
    /// <remarks>Above <see cref="KestrelFactor"/> times this Kestrel answers 431 on its own, with an empty body.</remarks>
    public int MaxHeaderBytes { get; set; } = 32 * 1024;

    /// <summary>Most request headers; more get a JSON 431.</summary>
    /// <remarks>Above <see cref="KestrelFactor"/> times this Kestrel answers 431 on its own, with an empty body.</remarks>
    public int MaxHeaderCount { get; set; } = 100;

    /// <summary>How far above the URL and header limits Kestrel's own, bare, refusals are set.</summary>
    /// <remarks>
    /// Kestrel refuses a request line or headers over its limits before any middleware runs, with no way to give the
    /// answer a body. Its limits are set this much higher than the node's, so a middleware sees, and answers in JSON,
    /// every request between the two; the factor bounds what one connection may make Kestrel buffer.
    /// </remarks>
    public const int KestrelFactor = 4;

    /// <summary>Most messages in one batch publish.</summary>
    public int MaxBatch { get; set; } = 1000;

    /// <summary>Most topics one broadcast (<c>POST /broadcast</c>) publishes to; more get 413.</summary>
    /// <remarks>A broadcast is one log write whatever its topics: this bounds its count, the write's size bounds its bytes.</remarks>
    public int MaxBroadcastTopics { get; set; } = 100;

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

    /// <summary>Sets Kestrel's own limits from these: the body's with room to drain, the rest <see cref="KestrelFactor"/> times the node's.</summary>
    public void ApplyTo(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerLimits kestrel)
    {
        kestrel.MaxRequestBodySize = MaxBodyBytes + MaxDrainBytes;
        kestrel.MaxRequestLineSize = MaxUrlBytes * KestrelFactor;
        kestrel.MaxRequestHeadersTotalSize = MaxHeaderBytes * KestrelFactor;
        kestrel.MaxRequestHeaderCount = MaxHeaderCount * KestrelFactor;
    }
}
