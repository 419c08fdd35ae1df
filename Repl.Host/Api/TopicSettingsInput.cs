using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Repl.Actors.Topics;
using Repl.Host.Contract;

namespace Repl.Host.Api;

/// <summary>
/// Reads <c>PATCH /topics/{name}</c>: a JSON object with any of <c>retention</c> (<c>{"maxMessages","maxAge"}</c>),
/// <c>maxMessageBytes</c>, <c>publishRate</c>, <c>presence</c>. What it names is set; a null puts the node's setting back;
/// what it leaves out stays as it was.
/// </summary>
/// <remarks>Strict, unlike a publish: an unknown property is a 400 that names it, so a misspelt setting is not silently ignored.</remarks>
internal static class TopicSettingsInput
{
    /// <summary>Most publishes per second a topic's rate may be set to (above it, leave the rate unset).</summary>
    public const double MaxPublishRate = 1_000_000;

    private static readonly TimeSpan MaxAge = TimeSpan.FromDays(36_500);

    private const string Shape = "send a JSON object with any of \"retention\": {\"maxMessages\", \"maxAge\"}, \"maxMessageBytes\", \"publishRate\", \"presence\"";

    /// <summary>The settings a body names and which fields those are, or a 400 naming what is wrong.</summary>
    public static (TopicSettings Settings, TopicSettingsFields Fields, IResult? Error) Parse(ReadOnlySequence<byte> body)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(body);
            document = JsonDocument.ParseValue(ref reader);
            if (reader.Read()) return Fail("malformed JSON", "unexpected data after the JSON object");
        }
        catch (JsonException exception)
        {
            return Fail("malformed JSON", exception.Message);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return Fail("invalid settings", "the body must be a JSON object; " + Shape);
            var settings = TopicSettings.None;
            var fields = TopicSettingsFields.None;
            foreach (var property in root.EnumerateObject())
            {
                var value = property.Value;
                bool isNull = value.ValueKind == JsonValueKind.Null;
                switch (property.Name)
                {
                    case "retention" when isNull:
                        settings = settings with { MaxMessages = null, MaxAge = null };
                        fields |= TopicSettingsFields.MaxMessages | TopicSettingsFields.MaxAge;
                        break;
                    case "retention" when value.ValueKind != JsonValueKind.Object:
                        return Invalid("retention", "must be an object {\"maxMessages\", \"maxAge\"} or null");
                    case "retention":
                        foreach (var limit in value.EnumerateObject())
                        {
                            bool limitNull = limit.Value.ValueKind == JsonValueKind.Null;
                            switch (limit.Name)
                            {
                                case "maxMessages":
                                    if (!limitNull && !(limit.Value.TryGetInt64(out long messages) && messages >= 0))
                                        return Invalid("retention.maxMessages", "must be a whole number ≥ 0 (0 keeps all), or null for the node's Journal:MaxMessagesPerTopic");
                                    settings = settings with { MaxMessages = limitNull ? null : limit.Value.GetInt64() };
                                    fields |= TopicSettingsFields.MaxMessages;
                                    break;
                                case "maxAge":
                                    TimeSpan? age = null;
                                    if (!limitNull && (age = ReadAge(limit.Value)) is null)
                                        return Invalid("retention.maxAge", "must be a duration: seconds (a number ≥ 0) or \"d.hh:mm:ss\" (zero keeps all), up to 36,500 days; or null for the node's Journal:MaxAge");
                                    settings = settings with { MaxAge = age };
                                    fields |= TopicSettingsFields.MaxAge;
                                    break;
                                default:
                                    return Fail("unknown setting", $"'retention.{limit.Name}' is not a setting; retention takes \"maxMessages\" and \"maxAge\"");
                            }
                        }
                        break;
                    case "maxMessageBytes":
                        if (!isNull && !(value.TryGetInt64(out long bytes) && bytes >= 1))
                            return Invalid("maxMessageBytes", "must be a whole number ≥ 1 (bytes of a message's JSON), or null for none of its own");
                        settings = settings with { MaxMessageBytes = isNull ? null : value.GetInt64() };
                        fields |= TopicSettingsFields.MaxMessageBytes;
                        break;
                    case "publishRate":
                        if (!isNull && !(value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double rate) && rate > 0 && rate <= MaxPublishRate))
                            return Invalid("publishRate", $"must be a number of publishes per second above 0, up to {MaxPublishRate:0}; or null for no limit");
                        settings = settings with { PublishRate = isNull ? null : value.GetDouble() };
                        fields |= TopicSettingsFields.PublishRate;
                        break;
                    case "presence":
                        if (!isNull && value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                            return Invalid("presence", "must be true, false, or null for the node's Topics:Presence");
                        settings = settings with { Presence = isNull ? null : value.GetBoolean() };
                        fields |= TopicSettingsFields.Presence;
                        break;
                    default:
                        return Fail("unknown setting", $"'{property.Name}' is not a topic setting; {Shape}");
                }
            }
            if (fields == TopicSettingsFields.None) return Fail("no settings", "the object names no setting; " + Shape);
            return (settings, fields, null);
        }
    }

    /// <summary>A topic's settings as the API shows them.</summary>
    public static TopicSettingsBody Body(TopicSettings settings) => new(
        new RetentionBody(settings.MaxMessages, settings.MaxAge?.ToString("c", CultureInfo.InvariantCulture)),
        settings.MaxMessageBytes, settings.PublishRate, settings.Presence);

    private static TimeSpan? ReadAge(JsonElement value)
    {
        TimeSpan age;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double seconds) && seconds >= 0 && seconds <= MaxAge.TotalSeconds) age = TimeSpan.FromSeconds(seconds);
        else if (value.ValueKind != JsonValueKind.String || !TimeSpan.TryParse(value.GetString(), CultureInfo.InvariantCulture, out age)) return null;
        if (age < TimeSpan.Zero || age > MaxAge) return null;
        // Whole milliseconds: what the log stores.
        return TimeSpan.FromMilliseconds(Math.Floor(age.TotalMilliseconds));
    }

    private static (TopicSettings, TopicSettingsFields, IResult?) Invalid(string field, string rule) =>
        Fail("invalid " + field, $"'{field}' {rule}");

    private static (TopicSettings, TopicSettingsFields, IResult?) Fail(string error, string cause) =>
        (TopicSettings.None, TopicSettingsFields.None, ApiError.BadRequest(error, cause));
}
