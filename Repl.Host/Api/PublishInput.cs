using System.Buffers;
using System.Text.Json;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Topics;
using Repl.Host.Contract;
using Repl.Host.Security;

namespace Repl.Host.Api;

/// <summary>
/// Reads publish bodies: <c>{"value": "...", "headers": {"k": "v"}}</c>, or an array of them for a batch.
/// </summary>
/// <remarks>
/// <c>value</c> is a string as in REPL; any other JSON value is kept as its JSON text, so
/// <c>{"value": {"a": 1}}</c> publishes the string <c>{"a":1}</c>; a single message without one publishes <c>""</c>,
/// as REPL did (a batch message without one is refused). Header values must be strings.
/// Unknown properties are ignored. The body is parsed straight from the request pipe.
/// </remarks>
internal static class PublishInput
{
    /// <summary>Reads the whole body, within <see cref="LimitsOptions.MaxBodyBytes"/>.</summary>
    /// <returns>The body, or an error result (413 over the limit, 400 empty).</returns>
    /// <remarks>
    /// Over the limit, the answer goes out without reading the rest: Kestrel's limit sits
    /// <see cref="LimitsOptions.MaxDrainBytes"/> higher, so after the 413 it reads the rest of the body and drops it,
    /// and a client that sends the whole body before reading gets the 413 instead of a reset. With
    /// <c>Expect: 100-continue</c> nothing was asked for, so nothing more comes.
    /// </remarks>
    public static async Task<(ReadOnlySequence<byte> Body, IResult? Error)> ReadBodyAsync(HttpContext context, LimitsOptions limits)
    {
        long maxBytes = limits.MaxBodyBytes;
        if (context.Request.ContentLength > maxBytes) return (default, TooLarge(context, limits));
        var reader = context.Request.BodyReader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(context.RequestAborted);
                if (read.Buffer.Length > maxBytes)
                {
                    reader.AdvanceTo(read.Buffer.End);
                    return (default, TooLarge(context, limits));
                }
                if (read.IsCompleted)
                {
                    // Copied out so the pipe is released at once; bodies are small and the copy is cheaper than the bookkeeping.
                    var body = new ReadOnlySequence<byte>(read.Buffer.ToArray());
                    reader.AdvanceTo(read.Buffer.End);
                    if (body.IsEmpty) return (default, ApiError.BadRequest("empty body", "the request has no body; send JSON"));
                    return (body, null);
                }
                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            }
        }
        catch (BadHttpRequestException error) when (error.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (default, TooLarge(context, limits));
        }
    }

    /// <summary>Parses one message object, REPL's way: a message without <c>value</c> (or with <c>null</c>) gets <c>""</c>.</summary>
    /// <param name="valueMissing">Set when the message had no value, for the caller to warn (see README, "Compatibility with REPL").</param>
    public static PublishCommand? ParseOne(string topic, ReadOnlySequence<byte> body, DateTimeOffset now, out IResult? error, out bool valueMissing)
    {
        valueMissing = false;
        var reader = new Utf8JsonReader(body);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = ApiError.BadRequest("invalid message", "the body must be a JSON object like {\"value\":\"...\",\"headers\":{}}");
                return null;
            }
            var command = ParseObject(topic, ref reader, now, out error, out valueMissing);
            if (command is not null && (reader.Read() || reader.BytesConsumed < body.Length))
            {
                error = ApiError.BadRequest("malformed JSON", "unexpected data after the JSON object");
                return null;
            }
            return command;
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or ArgumentException)
        {
            error = ApiError.BadRequest("malformed JSON", exception.Message);
            return null;
        }
    }

    /// <summary>Parses an array of message objects for a batch publish; every message needs a <c>value</c>.</summary>
    /// <remarks>Batch publish is Repl's own route, no REPL client sends it, so it keeps the strict rule.</remarks>
    public static PublishCommand[]? ParseBatch(string topic, ReadOnlySequence<byte> body, DateTimeOffset now, int maxBatch, out IResult? error)
    {
        var reader = new Utf8JsonReader(body);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartArray)
            {
                error = ApiError.BadRequest("invalid batch", "the body must be a JSON array of {\"value\":\"...\",\"headers\":{}} objects");
                return null;
            }
            var commands = new List<PublishCommand>();
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    error = ApiError.BadRequest("invalid batch", $"item {commands.Count} is not a JSON object");
                    return null;
                }
                if (commands.Count == maxBatch)
                {
                    error = ApiError.Of(StatusCodes.Status413PayloadTooLarge, "batch too large", $"a batch holds at most {maxBatch} messages");
                    return null;
                }
                if (ParseObject(topic, ref reader, now, out error, out bool valueMissing) is not { } command)
                {
                    return null;
                }
                if (valueMissing)
                {
                    error = ApiError.BadRequest("missing value", $"item {commands.Count} has no \"value\"; each message of a batch needs one (a string)");
                    return null;
                }
                commands.Add(command);
            }
            if (commands.Count == 0)
            {
                error = ApiError.BadRequest("invalid batch", "the batch is empty");
                return null;
            }
            error = null;
            return [.. commands];
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or ArgumentException)
        {
            error = ApiError.BadRequest("malformed JSON", exception.Message);
            return null;
        }
    }

    /// <summary>The request's <c>Idempotency-Key</c> header: null when absent; an error when it is not a key.</summary>
    public static (string? Key, IResult? Error) ReadKey(HttpContext context)
    {
        var values = context.Request.Headers[IdempotencyHeader];
        if (values.Count == 0) return (null, null);
        if (values.Count > 1) return (null, ApiError.BadRequest("invalid Idempotency-Key", "send one Idempotency-Key header"));
        return IsKey(values[0]) ? (values[0], null) : (null, InvalidKey(IdempotencyHeader));
    }

    public const string IdempotencyHeader = "Idempotency-Key";

    /// <summary>Longest idempotency key accepted.</summary>
    public const int MaxKeyLength = 200;

    // Visible ASCII only: a key travels in a header and in the log, and must compare the same everywhere.
    private static bool IsKey(string? key) => key is { Length: > 0 and <= MaxKeyLength } && key.All(c => c is > ' ' and <= '~');

    private static IResult InvalidKey(string where) =>
        ApiError.BadRequest("invalid idempotency key", $"{where} must be 1–{MaxKeyLength} visible ASCII characters (a UUID is a good key)");

    /// <summary>
    /// Parses a broadcast, <c>{"topics": [...], "value", "headers", "idempotencyKey"?}</c>: one command per topic, in
    /// order, each with the same value, headers, time and key. As a batch, the message needs a <c>value</c>.
    /// </summary>
    /// <returns>The commands, or null with a 400 (or a 413 over <paramref name="maxTopics"/>) in <paramref name="error"/>.</returns>
    public static PublishCommand[]? ParseBroadcast(ReadOnlySequence<byte> body, DateTimeOffset now, int maxTopics, out IResult? error)
    {
        var reader = new Utf8JsonReader(body);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = ApiError.BadRequest("invalid broadcast", "the body must be a JSON object like {\"topics\":[\"a\",\"b\"],\"value\":\"...\",\"headers\":{}}");
                return null;
            }
            var topics = new List<string>();
            if (!ReadFields(ref reader, topics, maxTopics, out var fields, out error)) return null;
            if (reader.Read() || reader.BytesConsumed < body.Length)
            {
                error = ApiError.BadRequest("malformed JSON", "unexpected data after the JSON object");
                return null;
            }
            if (!fields.HasTopics || topics.Count == 0)
            {
                error = ApiError.BadRequest("no topic", "name the topics to publish to: {\"topics\":[\"a\",\"b\"],\"value\":\"...\"}");
                return null;
            }
            if (fields.Value is null)
            {
                error = ApiError.BadRequest("missing value", "the broadcast has no \"value\"; send one (a string)");
                return null;
            }
            var commands = new PublishCommand[topics.Count];
            for (int i = 0; i < commands.Length; i++)
            {
                // Each topic's message names its topic, so each has its own body.
                commands[i] = new PublishCommand(topics[i], MessageJson.EncodeBody(topics[i], fields.Value, fields.Headers, now), now.ToUnixTimeMilliseconds(), fields.Key);
            }
            return commands;
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or ArgumentException)
        {
            error = ApiError.BadRequest("malformed JSON", exception.Message);
            return null;
        }
    }

    /// <param name="valueMissing">Set when the value was absent or null: the message then holds <c>""</c>.</param>
    private static PublishCommand? ParseObject(string topic, ref Utf8JsonReader reader, DateTimeOffset now, out IResult? error, out bool valueMissing)
    {
        valueMissing = false;
        if (!ReadFields(ref reader, null, 0, out var fields, out error)) return null;
        valueMissing = fields.Value is null;
        return new PublishCommand(topic, MessageJson.EncodeBody(topic, fields.Value ?? "", fields.Headers, now), now.ToUnixTimeMilliseconds(), fields.Key);
    }

    /// <summary>A message object's fields, as read by <see cref="ReadFields"/>.</summary>
    private readonly record struct MessageFields(string? Value, List<KeyValuePair<string, string>> Headers, string? Key, bool HasTopics);

    /// <summary>
    /// Reads a message object's fields up to its end: <c>value</c> (any JSON but a string as its text), <c>headers</c>
    /// (string values), <c>idempotencyKey</c>, and, when <paramref name="topics"/> is given, <c>topics</c> (distinct valid
    /// names, at most <paramref name="maxTopics"/>). Anything else is skipped.
    /// </summary>
    private static bool ReadFields(ref Utf8JsonReader reader, List<string>? topics, int maxTopics, out MessageFields fields, out IResult? error)
    {
        fields = default;
        string? value = null;
        string? key = null;
        bool hasTopics = false;
        List<KeyValuePair<string, string>> headers = [];
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            bool isValue = reader.ValueTextEquals("value"u8);
            bool isHeaders = reader.ValueTextEquals("headers"u8);
            bool isKey = reader.ValueTextEquals("idempotencyKey"u8);
            bool isTopics = topics is not null && reader.ValueTextEquals("topics"u8);
            reader.Read();
            if (isTopics)
            {
                hasTopics = true;
                if (ReadTopics(ref reader, topics!, maxTopics) is { } topicsError)
                {
                    error = topicsError;
                    return false;
                }
            }
            else if (isKey)
            {
                key = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                if (!IsKey(key))
                {
                    error = InvalidKey("\"idempotencyKey\"");
                    return false;
                }
            }
            else if (isValue)
            {
                value = reader.TokenType switch
                {
                    JsonTokenType.String => reader.GetString(),
                    JsonTokenType.Null => null,
                    _ => RawText(ref reader),
                };
            }
            else if (isHeaders)
            {
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    error = ApiError.BadRequest("invalid headers", "headers must be an object of string values");
                    return false;
                }
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    string name = reader.GetString()!;
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        error = ApiError.BadRequest("invalid headers", $"header '{name}' must be a string");
                        return false;
                    }
                    headers.Add(new(name, reader.GetString()!));
                }
            }
            else
            {
                reader.Skip();
            }
        }
        fields = new MessageFields(value, headers, key, hasTopics);
        error = null;
        return true;
    }

    /// <summary>Reads a broadcast's <c>topics</c> array into <paramref name="topics"/>; an error when it is not a list of distinct valid names.</summary>
    private static IResult? ReadTopics(ref Utf8JsonReader reader, List<string> topics, int maxTopics)
    {
        if (reader.TokenType != JsonTokenType.StartArray) return ApiError.BadRequest("invalid topics", "\"topics\" must be an array of topic names");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.String) return ApiError.BadRequest("invalid topics", $"topics[{topics.Count}] is not a string");
            string name = reader.GetString()!;
            if (topics.Count == maxTopics)
            {
                return ApiError.Of(StatusCodes.Status413PayloadTooLarge, "broadcast too large",
                    $"a broadcast names at most {maxTopics} topics (Limits:MaxBroadcastTopics)");
            }
            if (!TopicName.IsValid(name) || TopicName.IsInternal(name)) return ApiError.InvalidTopic(name);
            if (!seen.Add(name)) return ApiError.BadRequest("duplicate topic", $"topic '{name}' is named twice; a broadcast publishes once to each topic");
            topics.Add(name);
        }
        return null;
    }

    private static string RawText(ref Utf8JsonReader reader)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return document.RootElement.GetRawText();
    }

    private static IResult TooLarge(HttpContext context, LimitsOptions limits)
    {
        // A declared length past what Kestrel will drain: say that this connection ends, since it cannot be reused.
        if (context.Request.ContentLength > limits.MaxBodyBytes + limits.MaxDrainBytes) context.Response.Headers.Connection = "close";
        return ApiError.Of(StatusCodes.Status413PayloadTooLarge, "body too large",
            $"the request body is over the limit of {limits.MaxBodyBytes} bytes (Limits:MaxBodyBytes)");
    }
}
