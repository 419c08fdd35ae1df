using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Repl.Actors.Messages;

/// <summary>
/// An SSE event with no <c>id:</c> line: its head (<c>event: name</c>, and any <c>retry:</c> before it), then one
/// <c>data:</c> line of JSON. The frame of every control and presence event (<c>Repl.Sse.SseEvents</c>,
/// <c>PresenceEvents</c>); messages are framed from their stored JSON (<see cref="MessageJson"/>).
/// </summary>
/// <remarks>
/// The JSON is escaped as a message's is (<see cref="MessageJson"/>): text reads as written, non-ASCII included, and
/// control characters are escaped, so a user name or a reason can never break the frame into two lines.
/// </remarks>
public static class EventFrame
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// <paramref name="head"/> (its lines, without the last newline), then <c>data: {…}</c> with the properties
    /// <paramref name="data"/> writes, then the blank line that ends the event.
    /// </summary>
    public static byte[] Of(ReadOnlySpan<byte> head, Action<Utf8JsonWriter> data)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        buffer.Write(head);
        buffer.Write("\ndata: "u8);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            data(writer);
            writer.WriteEndObject();
        }
        buffer.Write("\n\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <inheritdoc cref="Of(ReadOnlySpan{byte}, Action{Utf8JsonWriter})"/>
    public static byte[] Of(string head, Action<Utf8JsonWriter> data) => Of(System.Text.Encoding.UTF8.GetBytes(head), data);
}
