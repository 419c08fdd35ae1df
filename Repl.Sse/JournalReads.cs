using Repl.Actors.Topics;

namespace Repl.Sse;

/// <summary>
/// The node's journal reads for streams behind their topics' rings (<see cref="JournalPage"/>): at most
/// <see cref="SseOptions.JournalReaders"/> run at once, in the order asked, and streams that ask for the same page
/// share one read.
/// </summary>
/// <remarks>
/// <para><b>Why bounded.</b> When publishers outrun a node's streams, many fall out of their rings together, and each
/// read its own page in its own pool work item: hundreds of SQLite reads at once, which took the pool from Kestrel's
/// publishes and the core from the streams' thread, so more streams fell behind. Reads beyond the bound now wait in a
/// queue and hold no thread.</para>
/// <para><b>Why shared.</b> Streams that fall behind together were served by the same rounds, so they ask for the same
/// page: the same topics after the same cursor, up to the same watermark. One read frames it once for all of them.
/// What is per stream, the <c>gap</c> events it owes, is worked out for each.</para>
/// </remarks>
/// <param name="schedule">Starts a reader; the thread pool, or a spec's hand.</param>
internal sealed class JournalReads(int readers, SseCounters counters, Action<Action>? schedule = null)
{
    private readonly Action<Action> _schedule = schedule ?? (static drain => ThreadPool.UnsafeQueueUserWorkItem(static drain => drain(), drain, preferLocal: false));
    private readonly Lock _gate = new();
    private readonly Queue<Read> _queue = new();
    // Reads queued or running, by page: a stream asking for one of them joins it.
    private readonly Dictionary<Key, Read> _pending = new();
    private int _running;

    /// <summary>
    /// Reads the page after <paramref name="cursor"/> up to <paramref name="watermark"/> of <paramref name="topics"/> off
    /// the streams' thread, and hands it (or its failure) to <paramref name="done"/>, the stage's async callback.
    /// </summary>
    /// <param name="gapsReported">The stream's gaps said so far, by topic; touched only by this read (one per stream is in flight at most).</param>
    public void Start(SseConnection connection, IReadOnlyList<TopicHub> topics, long cursor, long watermark, Dictionary<string, long> gapsReported,
        SseOptions options, Action<JournalPage> done)
    {
        var reader = new Reader(gapsReported, done);
        var key = new Key(connection.Journal, Names(topics), cursor, watermark);
        lock (_gate)
        {
            if (_pending.TryGetValue(key, out var read))
            {
                read.Readers.Add(reader);
                counters.JournalReadShared();
                return;
            }
            read = new Read(key, connection, topics, options, [reader]);
            _pending.Add(key, read);
            _queue.Enqueue(read);
            if (_running >= readers) return;
            _running++;
        }
        _schedule(Drain);
    }

    /// <summary>One of the node's readers: reads what is queued until nothing is.</summary>
    private void Drain()
    {
        while (true)
        {
            Read? read;
            lock (_gate)
            {
                if (!_queue.TryDequeue(out read))
                {
                    _running--;
                    return;
                }
                // From here a stream that asks for this page reads its own: the readers of this one are known.
                _pending.Remove(read.Key);
            }
            var (connection, topics, cursor, watermark) = (read.Connection, read.Topics, read.Key.Cursor, read.Key.Watermark);
            var pages = new JournalPage[read.Readers.Count];
            try
            {
                // Each stream's gaps before the page, as when each read its own: a gap never covers what the page holds.
                for (int i = 0; i < pages.Length; i++)
                {
                    pages[i] = new JournalPage(JournalPage.GapsOwed(connection, topics, cursor, read.Readers[i].GapsReported, counters), [], cursor, Complete: false);
                }
                var page = JournalPage.Read(connection, topics, cursor, watermark, read.Options, counters);
                for (int i = 0; i < pages.Length; i++) pages[i] = page with { Gaps = pages[i].Gaps };
            }
            catch (Exception error)
            {
                Array.Fill(pages, new JournalPage([], [], cursor, Complete: false, error));
            }
            for (int i = 0; i < pages.Length; i++) read.Readers[i].Done(pages[i]);
        }
    }

    private static string Names(IReadOnlyList<TopicHub> topics) =>
        topics.Count == 1 ? topics[0].Name : string.Join('\n', topics.Select(topic => topic.Name));

    /// <summary>A page: the same journal, the same topics in the same order, after the same cursor, up to the same watermark.</summary>
    private readonly record struct Key(object Journal, string Topics, long Cursor, long Watermark);

    private sealed record Reader(Dictionary<string, long> GapsReported, Action<JournalPage> Done);

    private sealed record Read(Key Key, SseConnection Connection, IReadOnlyList<TopicHub> Topics, SseOptions Options, List<Reader> Readers);
}
