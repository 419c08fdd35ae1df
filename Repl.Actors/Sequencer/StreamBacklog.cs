namespace Repl.Actors.Sequencer;

/// <summary>
/// How far the node's streams run behind its applied log, in positions: the streams' thread reports it after each run
/// of wakes, and the <see cref="Batcher"/> holds the node's next batch while it is over <see cref="Limit"/>.
/// </summary>
/// <remarks>
/// <para><b>Why.</b> Admission control for overload. When publishers outrun what the node's streams can write, something
/// has to give: either acknowledgements wait, or the streams' lag grows until they fall behind their topics' in-memory
/// rings and every one of them reads the journal on the pool, which takes more of the core from the streams' thread
/// and makes them fall further behind (bench S2: a third of the core in journal reads, deliveries/s halved). Holding
/// the next batch while the streams catch up keeps them inside the rings, and the batch cut afterwards is bigger, so
/// each stream's round carries more.</para>
/// <para><b>What counts.</b> How far behind the applied log each stream was when it wrote a round, averaged over the
/// rounds the streams' thread wrote since its last report, each counted at most a topic's ring: a client that stops
/// reading sends no rounds while its socket is full, and when it does, its lag moves the mean by little, so a few slow
/// clients never hold anyone's publishes back (they are cut off or read the journal, as before). Measured in positions,
/// not time, because what it protects is the rings, which hold positions: at 200 publishes/s nothing is ever held.</para>
/// </remarks>
/// <param name="limit">Positions behind beyond which new batches wait: a quarter of a topic's ring leaves room for the
/// batches already in flight.</param>
public sealed class StreamBacklog(long limit)
{
    private long _behind;
    private long _holds;
    private Action? _caughtUp;
    private Action? _probe;

    /// <summary>Positions behind beyond which the batcher holds new batches.</summary>
    public long Limit { get; } = limit;

    /// <summary>Positions behind, as last reported.</summary>
    public long Behind => Volatile.Read(ref _behind);

    public bool IsBehind => Behind > Limit;

    /// <summary>A batch waits for <see cref="Report"/> to say the streams caught up.</summary>
    public bool Waiting => Volatile.Read(ref _caughtUp) is not null;

    /// <summary>
    /// The streams' side: <paramref name="probe"/> is called (from the batcher's thread; it must not block) when a batch
    /// starts to wait (<see cref="HoldStarted"/>), so that the streams report again even if nothing else wakes them.
    /// </summary>
    public void OnHold(Action probe) => _probe = probe;

    /// <summary>Times a batch was held for the streams.</summary>
    public long Holds => Volatile.Read(ref _holds);

    /// <summary>The streams' thread: the rounds it wrote in its last run of wakes began, on average, <paramref name="positions"/> behind the applied log (0: it wrote none).</summary>
    public void Report(long positions)
    {
        Volatile.Write(ref _behind, positions);
        if (positions <= Limit && Volatile.Read(ref _caughtUp) is not null) Interlocked.Exchange(ref _caughtUp, null)?.Invoke();
    }

    /// <summary>The batcher: a batch has started to wait (after <see cref="Hold"/> said so); the streams are asked to report.</summary>
    public void HoldStarted()
    {
        Interlocked.Increment(ref _holds);
        _probe?.Invoke();
    }

    /// <summary>
    /// The batcher, about to cut: true to hold, and then <paramref name="caughtUp"/> is called once (from the streams'
    /// thread; it must not block) when the streams are no longer behind.
    /// </summary>
    public bool Hold(Action caughtUp)
    {
        if (!IsBehind) return false;
        Volatile.Write(ref _caughtUp, caughtUp);
        if (IsBehind) return true;
        // Caught up meanwhile, perhaps before the callback was there to be called.
        Interlocked.Exchange(ref _caughtUp, null);
        return false;
    }
}
