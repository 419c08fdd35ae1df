namespace Repl.Sse;

/// <summary>A stream the host looks at on each sweep (<see cref="StreamHost.Handle.Sweep"/>): its pings and its token's expiry.</summary>
internal interface ISweptStream
{
    /// <summary>
    /// Whether the stream's stage has something to do now: a ping is due, or its token has expired. Called on the host's
    /// thread, which need not be the stage's (a graph of a host that was replaced), so it reads only what is safe there.
    /// </summary>
    bool IsDue(long nowMs);

    /// <summary>The stage's async callback, which the sweep tells <see cref="StreamSignal.Sweep"/>.</summary>
    Action<object> Callback { get; }

    /// <summary>What the stream was opened with: the server API finds a user's or a client's streams by it (<see cref="StreamHost.Handle.Tell"/>).</summary>
    SseConnection Connection { get; }
}
