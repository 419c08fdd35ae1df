using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Repl.Host.Contract;

namespace Repl.Host.Hooks;

/// <summary>Writes a hook's request body, and the parts every blocking hook's request shares: who asks, from where, with what.</summary>
internal static class HookRequestJson
{
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The JSON object <paramref name="write"/> writes the properties of.</summary>
    public static byte[] Object<TState>(TState state, Action<Utf8JsonWriter, TState> write)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            writer.WriteStartObject();
            write(writer, state);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Writes <c>"user"</c>, <c>"ip"</c>, the forwarded request headers under <paramref name="headersProperty"/> and,
    /// with a token, its <c>"claims"</c> (a claim given once as a string, several times as an array).
    /// </summary>
    public static void WriteCaller(Utf8JsonWriter writer, HttpContext context, string[] forwardHeaders, string headersProperty)
    {
        if (Caller.UserOf(context) is { } user) writer.WriteString("user"u8, user);
        else writer.WriteNull("user"u8);
        writer.WriteString("ip"u8, Caller.AddressOf(context) ?? "");
        writer.WriteStartObject(headersProperty);
        foreach (var name in forwardHeaders)
        {
            var values = context.Request.Headers[name];
            if (values.Count > 0) writer.WriteString(name, values.ToString());
        }
        writer.WriteEndObject();
        if (Caller.Authenticated(context) is not { } principal) return;
        writer.WriteStartObject("claims"u8);
        foreach (var group in principal.Claims.GroupBy(claim => claim.Type, StringComparer.Ordinal))
        {
            if (group.Count() == 1)
            {
                writer.WriteString(group.Key, group.First().Value);
                continue;
            }
            writer.WriteStartArray(group.Key);
            foreach (var claim in group) writer.WriteStringValue(claim.Value);
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
    }

    /// <summary>The values of the forwarded headers, in <paramref name="forwardHeaders"/>' order, for a cache key.</summary>
    public static void AppendForwarded(System.Text.StringBuilder key, HttpContext context, string[] forwardHeaders)
    {
        foreach (var name in forwardHeaders) key.Append('\0').Append(context.Request.Headers[name].ToString());
    }
}
