using System.Text.Json;
using Repl.Actors.Messages;

namespace Repl.Sse;

/// <summary>The control events of a Repl stream (messages are framed by the log reader, see <c>MessageJson.Frame</c>).</summary>
/// <remarks>
/// None of these carries an <c>id:</c> line, so they never move the client's <c>Last-Event-ID</c>.
/// Their data is JSON written by Utf8JsonWriter: one line, whatever the topic names hold.
/// </remarks>
public static class SseEvents
{
    /// <summary><c>event: ping</c>, sent on idle.</summary>
    public static ReadOnlySpan<byte> Ping => "event: ping\ndata: {}\n\n"u8;

    /// <summary>
    /// <c>retry:</c> then <c>event: connected</c> with the topics, the node, the position the stream starts after, the
    /// log's epoch and, when the node gave the stream one, its client id (the one presence lists and the server API takes).
    /// </summary>
    public static byte[] Connected(TimeSpan retry, IEnumerable<string> topics, string node, long position, string epoch, string? client = null) =>
        EventFrame.Of($"retry: {(long)retry.TotalMilliseconds}\nevent: connected", writer =>
        {
            writer.WriteStartArray("topics"u8);
            foreach (var topic in topics) writer.WriteStringValue(topic);
            writer.WriteEndArray();
            writer.WriteString("node"u8, node);
            writer.WriteNumber("position"u8, position);
            writer.WriteString("epoch"u8, epoch);
            if (client is not null) writer.WriteString("client"u8, client);
        });

    /// <summary>
    /// <c>event: reset</c>: the <c>Last-Event-ID</c> the client sent (<paramref name="requested"/>) was never issued by
    /// this log — it is ahead of the log's head, or from another log (a wiped data directory, another cluster) — so
    /// the stream starts over from <paramref name="position"/> of this log (0: all it retains, with a <c>gap</c> if trimmed).
    /// </summary>
    public static byte[] Reset(string requested, string reason, string epoch, long position) =>
        EventFrame.Of("event: reset", writer =>
        {
            writer.WriteString("requested"u8, requested);
            writer.WriteString("reason"u8, reason);
            writer.WriteString("epoch"u8, epoch);
            writer.WriteNumber("position"u8, position);
        });

    /// <summary><c>event: gap</c>: messages after <paramref name="requested"/> are gone; the stream goes on from <paramref name="oldest"/>.</summary>
    public static byte[] Gap(string topic, long requested, long oldest) =>
        EventFrame.Of("event: gap", writer =>
        {
            writer.WriteString("topic"u8, topic);
            writer.WriteNumber("requested"u8, requested);
            writer.WriteNumber("oldest"u8, oldest);
        });

    /// <summary><c>event: deleted</c>: the topic was deleted; the server closes the stream when no topic is left.</summary>
    public static byte[] Deleted(string topic) => EventFrame.Of("event: deleted", writer => writer.WriteString("topic"u8, topic));

    /// <summary><c>event: unsubscribed</c>: the server took the stream off the topic (<c>DELETE /topics/{name}/clients/{client}</c>).</summary>
    public static byte[] Unsubscribed(string topic) => EventFrame.Of("event: unsubscribed", writer => writer.WriteString("topic"u8, topic));

    /// <summary>The stream ends for a reason (<c>expired</c>, <c>unavailable</c>, ...), said in <c>data.reason</c>.</summary>
    public static byte[] Closing(string eventName, string reason) => EventFrame.Of("event: " + eventName, writer => writer.WriteString("reason"u8, reason));
}
