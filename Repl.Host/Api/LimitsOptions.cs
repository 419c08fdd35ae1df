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
}
