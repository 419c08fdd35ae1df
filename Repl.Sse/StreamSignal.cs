namespace Repl.Sse;

/// <summary>
/// What a thread outside a connection's graph tells its stage (<see cref="ConnectionStage"/>), through the stage's one
/// async callback. The callback also carries a deleted <see cref="Repl.Actors.Topics.TopicHub"/>, a
/// <see cref="JournalPage"/> read, and the server API's <see cref="StreamDisconnect"/> and <see cref="StreamUnsubscribe"/>.
/// </summary>
/// <remarks>
/// One callback per stage rather than one per kind of event: each <c>GetAsyncCallback</c> is ~280–380 B of heap per
/// stream (bench/README.md, "Where S4's memory per connection goes"). The signals are shared instances, so telling
/// one allocates nothing.
/// </remarks>
internal sealed class StreamSignal
{
    /// <summary>New messages were applied to one of the stream's topics.</summary>
    public static readonly StreamSignal Wake = new("wake");

    /// <summary>The stream wrote <see cref="ConnectionStage.InlineRounds"/> rounds in a row and goes on, after the streams woken meanwhile.</summary>
    public static readonly StreamSignal More = new("more");

    /// <summary>The coalescing window the stream waited for has ended (<see cref="CoalescingWindow"/>).</summary>
    public static readonly StreamSignal WindowEnd = new("window end");

    /// <summary>The host's sweep found the stream due for a ping or past its token's expiry (<see cref="StreamHost.Handle.Sweep"/>).</summary>
    public static readonly StreamSignal Sweep = new("sweep");

    /// <summary>The stop token fired: the request was aborted, or the host is stopping.</summary>
    public static readonly StreamSignal Stop = new("stop");

    /// <summary>The node lost its log (<see cref="SseConnection.Unavailable"/>).</summary>
    public static readonly StreamSignal Unavailable = new("unavailable");

    /// <summary>A flush that waited was sent: the response goes on.</summary>
    public static readonly StreamSignal Sent = new("sent");

    /// <summary>A flush that waited found the response over (completed, cancelled, or the write failed): the client is gone.</summary>
    public static readonly StreamSignal Closed = new("closed");

    /// <summary>A flush that waited took nothing for <see cref="SseOptions.StallTimeout"/>.</summary>
    public static readonly StreamSignal Stalled = new("stalled");

    private readonly string _name;

    private StreamSignal(string name) => _name = name;

    public override string ToString() => _name;
}
