using System.Diagnostics.Metrics;

namespace Repl.Host.Metrics;

/// <summary>The host's own measurements (the engine's counters are read from the node at scrape time).</summary>
internal sealed class ReplMetrics : IDisposable
{
    /// <summary>The meter and instrument <c>Repl.Actors.Log.Sequencer</c> records its log appends on.</summary>
    public const string SequencerMeter = "Repl.Actors";
    public const string CommitInstrument = "repl.commit.duration";

    private readonly long[] _httpByClass = new long[6];
    private readonly long[] _rejected = new long[Enum.GetValues<Rejection>().Length];
    private readonly MeterListener _listener = new();
    // Topics' Published counts as last seen, so deleting a topic does not make repl_published_total go down.
    private readonly Lock _publishedGate = new();
    private readonly Dictionary<object, long> _lastSeen = new(ReferenceEqualityComparer.Instance);
    private long _retired;

    public ReplMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == SequencerMeter && instrument.Name == CommitInstrument) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((_, seconds, _, _) => CommitLatency.Observe(TimeSpan.FromSeconds(seconds)));
        _listener.Start();
    }

    /// <summary>Log append time per batch (group commit), from the sequencer.</summary>
    /// <remarks>Nodes in one process (tests) share the sequencer's meter, so each sees the others' commits.</remarks>
    public LatencyHistogram CommitLatency { get; } = new();

    /// <summary>HTTP publish request to acknowledgement.</summary>
    public LatencyHistogram PublishLatency { get; } = new();

    public void CountResponse(int status)
    {
        int index = status / 100;
        Interlocked.Increment(ref _httpByClass[index is >= 1 and <= 5 ? index : 0]);
    }

    public long Responses(int statusClass) => Interlocked.Read(ref _httpByClass[statusClass]);

    public void Reject(Rejection reason) => Interlocked.Increment(ref _rejected[(int)reason]);

    public long Rejected(Rejection reason) => Interlocked.Read(ref _rejected[(int)reason]);

    /// <summary>Total published over the current topics plus what deleted topics had, as a counter that never falls.</summary>
    public long Published(IEnumerable<Repl.Actors.Topics.TopicActor> topics)
    {
        lock (_publishedGate)
        {
            long total = 0;
            var current = new HashSet<object>(ReferenceEqualityComparer.Instance);
            foreach (var topic in topics)
            {
                long published = topic.Published;
                total += published;
                current.Add(topic);
                _lastSeen[topic] = published;
            }
            foreach (var gone in _lastSeen.Keys.Where(topic => !current.Contains(topic)).ToList())
            {
                _retired += _lastSeen[gone];
                _lastSeen.Remove(gone);
            }
            return total + _retired;
        }
    }

    public void Dispose() => _listener.Dispose();
}

/// <summary>Why a request was refused before its handler ran.</summary>
internal enum Rejection
{
    Unauthorized,
    Forbidden,
    RateLimited,
    StreamsPerIp,
    MaxStreams,
}
