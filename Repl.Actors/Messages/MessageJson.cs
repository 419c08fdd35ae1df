using System.Buffers;
using System.Buffers.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Repl.Actors.Messages;

/// <summary>
/// The message's JSON, built once: <c>{"id":"42","topic":"t","value":"...","headers":{...},"createdAt":"RFC 3339"}</c>.
/// </summary>
/// <remarks>
/// A publish is encoded when the request is read (<see cref="EncodeBody"/>, everything but the id); the id — the
/// log position — is spliced in front once the position is known (<see cref="WithId"/>): standalone by the sequencer
/// as it cuts the write, in cluster mode by each node as it decodes etcd's batch (which keeps bodies without ids).
/// Every later use (journal, SSE frame, history) shares those bytes; the publish response is written from the id
/// (<see cref="WriteIdPrefix"/>) and the body as they are.
/// <para>Text reads as it was written: printable characters, non-ASCII included, are left as they are (<c>ç</c>, not
/// <c>\u00E7</c>, which made every non-ASCII character six bytes). Control characters are still escaped, so the JSON
/// never holds a raw CR or LF and is always one SSE <c>data:</c> line; so are <c>"</c> and <c>\</c>, and characters
/// outside the Basic Multilingual Plane (as surrogate pairs). The JSON is never embedded in HTML by the broker (it is
/// served as <c>application/json</c> and <c>text/event-stream</c>), so HTML's characters need no escaping either.</para>
/// </remarks>
public static class MessageJson
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = false,
        SkipValidation = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    // One writer and buffer per thread, reused: a fresh pair cost ~1 KB of allocations per 60-byte publish.
    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    /// <summary>Encodes a message without its id.</summary>
    public static byte[] EncodeBody(string topic, string value, IReadOnlyList<KeyValuePair<string, string>> headers, DateTimeOffset createdAt)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer);
        writer.WriteStartObject();
        writer.WriteString("topic"u8, topic);
        writer.WriteString("value"u8, value);
        writer.WriteStartObject("headers"u8);
        foreach (var (key, headerValue) in headers) writer.WriteString(key, headerValue);
        writer.WriteEndObject();
        writer.WriteString("createdAt"u8, createdAt.UtcDateTime);
        writer.WriteEndObject();
        writer.Flush();
        var body = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 64 * 1024) t_buffer = null; // do not keep a large message's buffer per thread
        return body;
    }

    /// <summary>Splices <c>"id":"position",</c> in as the first property of an encoded body.</summary>
    public static byte[] WithId(long position, ReadOnlySpan<byte> body)
    {
        // {"id":"<digits>",  + body without its leading '{'
        Span<byte> prefix = stackalloc byte[MaxIdPrefixLength];
        int length = WriteIdPrefix(position, prefix);
        var json = new byte[length + body.Length - 1];
        prefix[..length].CopyTo(json);
        body[1..].CopyTo(json.AsSpan(length));
        return json;
    }

    /// <summary>The most bytes <see cref="WriteIdPrefix"/> writes.</summary>
    public const int MaxIdPrefixLength = 9 + 20;

    /// <summary>
    /// Writes <c>{"id":"position",</c>; followed by an encoded body without its leading <c>{</c>, it is the message
    /// <see cref="WithId"/> makes, so an answer can be written from the parts without joining them into a new array.
    /// </summary>
    /// <returns>The bytes written.</returns>
    public static int WriteIdPrefix(long position, Span<byte> into)
    {
        "{\"id\":\""u8.CopyTo(into);
        Utf8Formatter.TryFormat(position, into[7..], out int length);
        "\","u8.CopyTo(into[(7 + length)..]);
        return 9 + length;
    }

    /// <summary>Whether <paramref name="json"/> is a message made by <see cref="WithId"/> for <paramref name="position"/>.</summary>
    internal static bool HasId(ReadOnlySpan<byte> json, long position)
    {
        Span<byte> prefix = stackalloc byte[MaxIdPrefixLength];
        return json.StartsWith(prefix[..WriteIdPrefix(position, prefix)]);
    }

    /// <summary>The SSE event for a message: <c>id: position@epoch\ndata: json\n\n</c>.</summary>
    /// <remarks>
    /// The id carries the log's epoch (<see cref="LogEpoch"/>) after the position, so that the <c>Last-Event-ID</c> an
    /// EventSource sends back by itself says which log it came from; the message JSON's <c>id</c> stays the position.
    /// </remarks>
    public static byte[] Frame(long position, ReadOnlySpan<byte> epoch, ReadOnlySpan<byte> json)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(position, digits, out int length);
        int id = length + 1 + epoch.Length;
        var frame = new byte[4 + id + 7 + json.Length + 2];
        "id: "u8.CopyTo(frame);
        digits[..length].CopyTo(frame.AsSpan(4));
        frame[4 + length] = (byte)'@';
        epoch.CopyTo(frame.AsSpan(5 + length));
        "\ndata: "u8.CopyTo(frame.AsSpan(4 + id));
        json.CopyTo(frame.AsSpan(11 + id));
        "\n\n"u8.CopyTo(frame.AsSpan(11 + id + json.Length));
        return frame;
    }
}
