using Repl.Actors.Messages;
using Repl.Actors.Storage;
using Repl.Actors.Topics;

namespace Repl.Sse;

/// <summary>
/// A page of the journal for a stream behind its topics' rings (<see cref="CursorSource"/>, read through
/// <see cref="JournalReads"/>): the <c>gap</c> events it owes, then the frames in (cursor, watermark], bounded like a
/// round from memory. The frames may be shared with other streams' pages: never change them.
/// </summary>
/// <param name="Complete">Everything up to the watermark asked for; false when the page was cut short by its bounds.</param>
/// <param name="Error">Why the read failed; the stream fails with it.</param>
internal sealed record JournalPage(List<byte[]> Gaps, List<Frame> Frames, long Reached, bool Complete, Exception? Error = null)
{
    /// <summary>Blocking (SQLite): the <c>gap</c> events a stream at <paramref name="cursor"/> owes, noted in <paramref name="gapsReported"/>.</summary>
    public static List<byte[]> GapsOwed(SseConnection connection, IReadOnlyList<TopicHub> topics, long cursor, Dictionary<string, long> gapsReported, SseCounters counters)
    {
        var gaps = new List<byte[]>();
        foreach (var topic in topics)
        {
            long trimmed = topic.TrimmedThrough;
            if (cursor < trimmed && (!gapsReported.TryGetValue(topic.Name, out long reported) || reported < trimmed))
            {
                gapsReported[topic.Name] = trimmed;
                long oldest = connection.Journal.Stats(topic.Name).FirstPosition;
                gaps.Add(SseEvents.Gap(topic.Name, cursor, oldest == 0 ? trimmed + 1 : oldest));
                counters.Gap();
            }
        }
        return gaps;
    }

    /// <summary>Blocking (SQLite): the frames in (cursor, watermark], without gaps; never call it on the streams' thread.</summary>
    public static JournalPage Read(SseConnection connection, IReadOnlyList<TopicHub> topics, long cursor, long watermark, SseOptions options, SseCounters counters)
    {
        var names = new List<string>(topics.Count);
        foreach (var topic in topics) names.Add(topic.Name);
        // Bounded by rows and by bytes, like a round from memory: a stream catching up holds one write's worth.
        var stored = connection.Journal.Read(names, cursor, watermark, options.JournalPageSize, options.MaxWriteBytes);
        counters.JournalRead();
        byte[] epoch = connection.Registry.Epoch.Utf8;
        var frames = new List<Frame>(stored.Count);
        long bytes = 0;
        foreach (var message in stored)
        {
            frames.Add(new Frame(message.Position, message.Topic, MessageJson.Frame(message.Position, epoch, message.Json)));
            bytes += message.Json.Length;
        }
        // A page cut short by neither bound holds everything up to the watermark.
        bool complete = stored.Count < options.JournalPageSize && bytes < options.MaxWriteBytes;
        return new JournalPage([], frames, complete ? watermark : stored[^1].Position, complete);
    }
}
