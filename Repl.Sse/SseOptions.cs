namespace Repl.Sse;

/// <summary>How SSE streams behave.</summary>
public sealed class SseOptions
{
    /// <summary>An idle stream gets <c>event: ping</c> this often (REPL did the same), which also finds dead connections.</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The <c>retry:</c> hint sent to EventSource: how long it waits before reconnecting.</summary>
    public TimeSpan Retry { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Most bytes a stream writes in one go. Bounds a subscriber's buffered backlog: the writer waits for the
    /// client to drain before it takes more.
    /// </summary>
    public int MaxWriteBytes { get; set; } = 64 * 1024;

    /// <summary>A subscriber whose socket accepts nothing for this long is cut off (and may reconnect with its last id).</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A stream that wrote less than this long ago waits for the rest of the window before writing again, so
    /// one write carries everything that arrived meanwhile. Quiet streams write at once. Zero: always at once.
    /// </summary>
    public TimeSpan CoalesceWindow { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Send a cleartext HTTP/1.1 stream's chunks straight to its socket (<see cref="ChunkedSocketWriter"/>) once Kestrel
    /// has sent the response head. Needs <c>Node:InlineScheduling</c>; false: always through Kestrel's pipe.
    /// </summary>
    public bool DirectWrites { get; set; } = true;

    /// <summary>Rows read from the journal per catch-up step when memory does not hold what a stream needs.</summary>
    public int JournalPageSize { get; set; } = 512;
}
