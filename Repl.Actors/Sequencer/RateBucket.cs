namespace Repl.Actors.Sequencer;

/// <summary>A topic's <c>publishRate</c> as the sequencer keeps it: a token bucket refilled at the rate, holding one second's worth.</summary>
/// <remarks>
/// A request's publishes are taken whole while the bucket holds at least one publish, and may leave it in
/// debt, which the next publishes wait out: a request is never committed in part, and one larger than a second's worth
/// is not refused forever. Over time the topic gets its rate.
/// </remarks>
internal sealed class RateBucket(double perSecond, long nowMs)
{
    private readonly double _burst = Math.Max(1, perSecond);
    private double _tokens = Math.Max(1, perSecond);
    private long _atMs = nowMs;

    /// <summary>Publishes per second.</summary>
    public double PerSecond => perSecond;

    /// <summary>Whether a publish may go at <paramref name="nowMs"/>: the bucket, refilled to then, holds at least one.</summary>
    public bool HasRoom(long nowMs)
    {
        if (nowMs > _atMs)
        {
            _tokens = Math.Min(_burst, _tokens + (nowMs - _atMs) * perSecond / 1000);
            _atMs = nowMs;
        }
        return _tokens >= 1;
    }

    /// <summary>Takes <paramref name="count"/> publishes, after <see cref="HasRoom"/> said yes; the bucket may go into debt.</summary>
    public void Take(int count) => _tokens -= count;
}
