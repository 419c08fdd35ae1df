using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Repl.Actors.Log;
using Repl.Actors.Messages;

namespace Repl.Host.Api;

/// <summary>
/// Reads publish bodies: <c>{"value": "...", "headers": {"k": "v"}}</c>, or an array of them for a batch.
/// </summary>
/// <remarks>
/// <c>value</c> is a string as in REPL; any other JSON value is kept as its JSON text, so
/// <c>{"value": {"a": 1}}</c> publishes the string <c>{"a":1}</c>. Header values must be strings.
/// Unknown properties are ignored. The body is parsed straight from the request pipe.
/// </remarks>
internal static class PublishInput
{
    /// <summary>Reads the whole body, within the configured size limit.</summary>
    /// <returns>The body, or an error result (413 over the limit, 400 empty).</returns>
    public static async Task<(ReadOnlySequence<byte> Body, IResult? Error)> ReadBodyAsync(HttpContext context, long maxBytes)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = maxBytes;
        if (context.Request.ContentLength > maxBytes) return (default, TooLarge(maxBytes));
        var reader = context.Request.BodyReader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(context.RequestAborted);
                if (read.Buffer.Length > maxBytes)
                {
                    reader.AdvanceTo(read.Buffer.End);
                    return (default, TooLarge(maxBytes));
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
            return (default, TooLarge(maxBytes));
        }
    }

    /// <summary>Parses one message object.</summary>
    public static PublishCommand? ParseOne(string topic, ReadOnlySequence<byte> body, DateTimeOffset now, out IResult? error)
    {
        var reader = new Utf8JsonReader(body);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = ApiError.BadRequest("invalid message", "the body must be a JSON object like {\"value\":\"...\",\"headers\":{}}");
                return null;
            }
            var command = ParseObject(topic, ref reader, now, out error);
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

    /// <summary>Parses an array of message objects for a batch publish.</summary>
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
                if (ParseObject(topic, ref reader, now, out error) is not { } command)
                {
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

    private static PublishCommand? ParseObject(string topic, ref Utf8JsonReader reader, DateTimeOffset now, out IResult? error)
    {
        string? value = null;
        List<KeyValuePair<string, string>> headers = [];
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            bool isValue = reader.ValueTextEquals("value"u8);
            bool isHeaders = reader.ValueTextEquals("headers"u8);
            reader.Read();
            if (isValue)
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
                    return null;
                }
                while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                {
                    string key = reader.GetString()!;
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        error = ApiError.BadRequest("invalid headers", $"header '{key}' must be a string");
                        return null;
                    }
                    headers.Add(new(key, reader.GetString()!));
                }
            }
            else
            {
                reader.Skip();
            }
        }
        if (value is null)
        {
            error = ApiError.BadRequest("missing value", "the message needs a \"value\" (a string)");
            return null;
        }
        error = null;
        return new PublishCommand(topic, MessageJson.EncodeBody(topic, value, headers, now), now.ToUnixTimeMilliseconds());
    }

    private static string RawText(ref Utf8JsonReader reader)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return document.RootElement.GetRawText();
    }

    private static IResult TooLarge(long maxBytes) =>
        ApiError.Of(StatusCodes.Status413PayloadTooLarge, "body too large", $"the request body is over the limit of {maxBytes} bytes (Limits:MaxBodyBytes)");
}
