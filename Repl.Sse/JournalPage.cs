using Repl.Actors.Messages;
using Repl.Actors.Storage;
using Repl.Actors.Topics;

namespace Repl.Sse;

/// <summary>
/// A page of the journal for a stream behind its topics' rings (<see cref="ConnectionStage"/>): the <c>gap</c> events it
/// owes, then the frames in (cursor, watermark], bounded like a round from memory.
/// </summary>
/// <param name="Complete">Everything up to the watermark asked for; false when the page was cut short by its bounds.</param>
/// <param name="Error">Why the read failed; the stream fails with it.</param>
internal sealed record JournalPage(List<byte[]> Gaps, List<Frame> Frames, long Reached, bool Complete, Exception? Error = null)
{
    /// <summary>
    /// Reads the page on the thread pool and hands it (or its failure) to <paramref name="done"/> there: SQLite blocks, and
    /// the streams' one thread must not. <paramref name="done"/> is the stage's async callback.
    /// </summary>
    /// <param name="gapsReported">The stream's gaps said so far, by topic; only this read touches it, and one read is in flight at most.</param>
    public static void ReadOnPool(SseConnection connection, IReadOnlyList<TopicHub> topics, long cursor, long watermark, Dictionary<string, long> gapsReported,
        SseOptions options, SseCounters counters, Action<JournalPage> done) =>
        _ = Task.Run(() =>
        {
            JournalPage page;
            try
            {
                page = Read(connection.Journal, connection.Registry.Epoch.Utf8, topics, cursor, watermark, gapsReported, options, counters);
            }
            catch (Exception error)
            {
                page = new JournalPage([], [], cursor, Complete: false, error);
            }
            done(page);
        });

    /// <summary>Blocking (SQLite): never call it on the streams' thread.</summary>
    private static JournalPage Read(Journal journal, byte[] epoch, IReadOnlyList<TopicHub> topics, long cursor, long watermark,
        Dictionary<string, long> gapsReported, SseOptions options, SseCounters counters)
    {
        var names = new List<string>(topics.Count);
        var gaps = new List<byte[]>();
        foreach (var topic in topics)
        {
            names.Add(topic.Name);
            long trimmed = topic.TrimmedThrough;
            if (cursor < trimmed && (!gapsReported.TryGetValue(topic.Name, out long reported) || reported < trimmed))
            {
                gapsReported[topic.Name] = trimmed;
                long oldest = journal.Stats(topic.Name).FirstPosition;
                gaps.Add(SseEvents.Gap(topic.Name, cursor, oldest == 0 ? trimmed + 1 : oldest));
                counters.Gap();
            }
        }
        // Bounded by rows and by bytes, like a round from memory: a stream catching up holds one write's worth.
        var stored = journal.Read(names, cursor, watermark, options.JournalPageSize, options.MaxWriteBytes);
        counters.JournalRead();
        var frames = new List<Frame>(stored.Count);
        long bytes = 0;
        foreach (var message in stored)
        {
            frames.Add(new Frame(message.Position, message.Topic, MessageJson.Frame(message.Position, epoch, message.Json)));
            bytes += message.Json.Length;
        }
        // A page cut short by neither bound holds everything up to the watermark.
        bool complete = stored.Count < options.JournalPageSize && bytes < options.MaxWriteBytes;
        return new JournalPage(gaps, frames, complete ? watermark : stored[^1].Position, complete);
    }
}
