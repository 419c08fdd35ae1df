using System.Diagnostics.Metrics;
using Repl.Actors.Sequencer;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
using Repl.Sse;

namespace Repl.Host.Metrics;

/// <summary>Observable instruments over the node's state, read when a reader collects (a scrape of <c>/metrics</c>).</summary>
/// <remarks>
/// The engine and the streams keep plain running totals (<see cref="Repl.Sse.SseCounters"/>, each topic's
/// <c>Published</c>); reading them at collection costs the hot path nothing, where a counter per message would cost a
/// measurement per delivery. Before the node has started, and after it stopped, the callbacks observe nothing.
/// </remarks>
internal sealed class NodeInstruments
{
    /// <summary>Per-topic gauges cover this many topics at most (the most subscribed), to bound the series count.</summary>
    public const int TopTopics = 20;

    private readonly TopicRegistry _registry;

    // Topics' Published counts as last seen, so deleting a topic does not make repl_published_total go down.
    private readonly Lock _publishedGate = new();
    private readonly Dictionary<TopicHub, long> _lastSeen = new(ReferenceEqualityComparer.Instance);
    private long _retired;

    public NodeInstruments(IMeterFactory meters, Journal journal, TopicRegistry registry, SseCounters streams, StreamBacklog backlog)
    {
        _registry = registry;
        var meter = meters.Create(ReplTelemetry.Name);
        meter.CreateObservableCounter("repl.published", () => Started(() => Published(Topics())), "{message}", "Messages applied on this node, all topics (deleted topics keep counting).");
        meter.CreateObservableGauge("repl.committed.position", () => Started(() => journal.LastPosition), "{position}", "Last position committed to the journal.");
        meter.CreateObservableGauge("repl.applied.position", () => registry.AppliedPosition, "{position}", "Last position applied to topics on this node.");
        meter.CreateObservableCounter("repl.delivered", () => streams.Delivered, "{message}", "Messages written to SSE streams.");
        meter.CreateObservableCounter("repl.stream.writes", () => streams.Writes, "{write}", "Writes to SSE streams that carried messages (delivered / writes = messages per write).");
        meter.CreateObservableUpDownCounter("repl.streams.open", () => streams.Open, "{stream}", "Open SSE streams.");
        meter.CreateObservableCounter("repl.subscribers.cut_off", () => streams.CutOff, "{stream}", "Streams closed because their client stopped reading.");
        meter.CreateObservableCounter("repl.stream.journal_reads", () => streams.JournalReads, "{read}", "Pages read from the journal by streams behind their topics' in-memory rings (a stream that fell behind).");
        meter.CreateObservableCounter("repl.stream.flush_waits", () => streams.FlushWaits, "{write}", "Writes to SSE streams that found the client's socket full and waited for it to drain.");
        meter.CreateObservableGauge("repl.streams.behind", () => backlog.Behind, "{position}", "Mean lag behind the applied log of the rounds the streams' thread wrote in its last run (0: none written); beyond a quarter of a topic's ring new batches wait.");
        meter.CreateObservableCounter("repl.publish.holds", () => backlog.Holds, "{hold}", "Times the node's next batch waited for its streams to catch up (admission control under overload).");
        meter.CreateObservableCounter("repl.gaps", () => streams.Gaps, "{event}", "Gap events sent (a resume point no longer retained).");
        meter.CreateObservableUpDownCounter("repl.topics", () => _registry.Public.Count(), "{topic}", "Topics on this node (internal topics excluded).");
        meter.CreateObservableGauge("repl.topic.subscribers", TopicSubscribers, "{subscriber}", $"Subscribers per topic, for the {TopTopics} most subscribed topics.");
        meter.CreateObservableUpDownCounter("repl.journal.bytes", () => Started(() => journal.SizeBytes()), "By", "Size of the journal database file.");
        meter.CreateObservableUpDownCounter("repl.process.managed", () => GC.GetTotalMemory(false), "By", "Managed heap in use (GC.GetTotalMemory).");
        meter.CreateObservableUpDownCounter("repl.process.working_set", () => Environment.WorkingSet, "By", "Process working set.");
    }

    private List<TopicHub> Topics() => [.. _registry.All];

    private IEnumerable<Measurement<long>> TopicSubscribers() =>
        _registry.Public
            .OrderByDescending(topic => topic.SubscriberCount).ThenByDescending(topic => topic.Published).ThenBy(topic => topic.Name, StringComparer.Ordinal)
            .Take(TopTopics)
            .Select(topic => new Measurement<long>(topic.SubscriberCount, new KeyValuePair<string, object?>("topic", topic.Name)));

    /// <summary>Total published over the current topics plus what deleted topics had, as a counter that never falls.</summary>
    private long Published(List<TopicHub> topics)
    {
        lock (_publishedGate)
        {
            long total = 0;
            var current = new HashSet<TopicHub>(ReferenceEqualityComparer.Instance);
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

    /// <summary>No measurement while the journal is not open (a reader may collect before start or after stop).</summary>
    private static IEnumerable<Measurement<long>> Started(Func<long> read)
    {
        long value;
        try
        {
            value = read();
        }
        catch (Exception error) when (error is InvalidOperationException or ObjectDisposedException)
        {
            yield break;
        }
        yield return new Measurement<long>(value);
    }
}
