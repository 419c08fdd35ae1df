using System.Buffers;
using System.Text.Json;

namespace Repl.Actors.Topics;

/// <summary>
/// A topic's own settings, committed through the log (<c>PATCH /topics/{name}</c>): every node applies them at the same
/// position, and they survive restarts and handovers with the journal. A null setting is the node's own.
/// </summary>
/// <remarks>
/// <para>Where each one is enforced: <see cref="MaxMessageBytes"/> by the node that takes the publish;
/// <see cref="PublishRate"/> by the sequencer at its cut (cluster-wide); the retention limits by the topic's entity when
/// it decides retention's cut; <see cref="Presence"/> by the node's presence tracking.</para>
/// <para>Stored and logged as a small JSON object (<see cref="ToJson"/>), nulls left out, so an entry reads as what it set.</para>
/// </remarks>
/// <param name="MaxMessages">History kept, in messages (0: all); null: <c>Journal:MaxMessagesPerTopic</c>.</param>
/// <param name="MaxAge">History kept, in age (zero: all); null: <c>Journal:MaxAge</c>.</param>
/// <param name="MaxMessageBytes">Largest message, as stored (its JSON without the id); null: only the body limit.</param>
/// <param name="PublishRate">Most publishes per second, cluster-wide; null: no limit.</param>
/// <param name="Presence">Whether presence is tracked on the topic; null: the node's <c>Topics:Presence</c>.</param>
public sealed record TopicSettings(long? MaxMessages = null, TimeSpan? MaxAge = null, long? MaxMessageBytes = null, double? PublishRate = null, bool? Presence = null)
{
    /// <summary>No setting of its own: the node's for everything.</summary>
    public static readonly TopicSettings None = new();

    /// <summary>True when nothing is set.</summary>
    public bool IsEmpty => this == None;

    /// <summary>These settings with the <paramref name="fields"/> of <paramref name="change"/> (a PATCH: what it names, null included, replaces).</summary>
    public TopicSettings With(TopicSettings change, TopicSettingsFields fields) => new(
        fields.HasFlag(TopicSettingsFields.MaxMessages) ? change.MaxMessages : MaxMessages,
        fields.HasFlag(TopicSettingsFields.MaxAge) ? change.MaxAge : MaxAge,
        fields.HasFlag(TopicSettingsFields.MaxMessageBytes) ? change.MaxMessageBytes : MaxMessageBytes,
        fields.HasFlag(TopicSettingsFields.PublishRate) ? change.PublishRate : PublishRate,
        fields.HasFlag(TopicSettingsFields.Presence) ? change.Presence : Presence);

    /// <summary>The stored form: <c>{"maxMessages","maxAgeMs","maxMessageBytes","publishRate","presence"}</c>, nulls left out.</summary>
    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(96);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            if (MaxMessages is { } messages) w.WriteNumber("maxMessages"u8, messages);
            if (MaxAge is { } age) w.WriteNumber("maxAgeMs"u8, (long)age.TotalMilliseconds);
            if (MaxMessageBytes is { } bytes) w.WriteNumber("maxMessageBytes"u8, bytes);
            if (PublishRate is { } rate) w.WriteNumber("publishRate"u8, rate);
            if (Presence is { } presence) w.WriteBoolean("presence"u8, presence);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads <see cref="ToJson"/>'s form; empty bytes are <see cref="None"/>. Unknown properties are skipped (written by a newer version).</summary>
    public static TopicSettings FromJson(ReadOnlySpan<byte> json)
    {
        if (json.IsEmpty) return None;
        var settings = None;
        var reader = new Utf8JsonReader(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            settings = name switch
            {
                "maxMessages" => settings with { MaxMessages = reader.GetInt64() },
                "maxAgeMs" => settings with { MaxAge = TimeSpan.FromMilliseconds(reader.GetInt64()) },
                "maxMessageBytes" => settings with { MaxMessageBytes = reader.GetInt64() },
                "publishRate" => settings with { PublishRate = reader.GetDouble() },
                "presence" => settings with { Presence = reader.GetBoolean() },
                _ => settings,
            };
            reader.Skip();
        }
        return settings.IsEmpty ? None : settings;
    }
}
