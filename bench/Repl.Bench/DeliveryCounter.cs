namespace Repl.Bench;

/// <summary>Deliveries over all subscribers and when the last one arrived; added to once per receive, not per message.</summary>
internal sealed class DeliveryCounter
{
    private long _total;
    private long _lastTicks;

    public long Total => Volatile.Read(ref _total);

    public long LastTicks => Volatile.Read(ref _lastTicks);

    public void Add(long count, long now)
    {
        Interlocked.Add(ref _total, count);
        long last = Volatile.Read(ref _lastTicks);
        while (now > last)
        {
            long seen = Interlocked.CompareExchange(ref _lastTicks, now, last);
            if (seen == last) break;
            last = seen;
        }
    }
}
