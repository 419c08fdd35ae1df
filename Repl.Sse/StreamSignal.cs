namespace Repl.Sse;

/// <summary>
/// What a thread outside a connection's graph tells its stage, through the stage's one async callback. The callback
/// also carries a deleted <see cref="Repl.Actors.Topics.TopicHub"/> and a <see cref="JournalPage"/> read.
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

    /// <summary>The coalescing window the stream waited for has ended (<see cref="CoalescingWindow"/>).</summary>
    public static readonly StreamSignal WindowEnd = new("window end");

    /// <summary>The host's sweep found the stream due for a ping or past its token's expiry (<see cref="StreamHost.Handle.Sweep"/>).</summary>
    public static readonly StreamSignal Sweep = new("sweep");

    /// <summary>The stop token fired: the request was aborted, or the host is stopping.</summary>
    public static readonly StreamSignal Stop = new("stop");

    /// <summary>The node lost its log (<see cref="SseConnection.Unavailable"/>).</summary>
    public static readonly StreamSignal Unavailable = new("unavailable");

    private readonly string _name;

    private StreamSignal(string name) => _name = name;

    public override string ToString() => _name;
}
