using System.Text.Json;
using Repl.Actors.Log;
using Repl.Actors.Messages;

namespace Repl.Host.Hooks;

/// <summary>
/// Asks <c>Hooks:Publish</c> before a publish is handed to the batcher: <c>{"topic", "value", "headers", "user", "ip",
/// "forwarded", "claims"?}</c>, or for a batch one call with <c>"messages": [{"value", "headers"}]</c> in place of
/// <c>value</c> and <c>headers</c>.
/// </summary>
/// <remarks>
/// <para>A 200 <c>{"allow": true}</c> may replace the value and headers (per message, for a batch, with one entry per
/// message). A refusal or a failure is answered before anything reaches the log: nothing is committed
/// (<see cref="HookResults"/>). A publish retried with an <c>Idempotency-Key</c> asks again: the hook runs before the
/// sequencer, which is what knows the key.</para>
/// <para>Never cached: the decision is about the message. Registered only when <c>Hooks:Publish</c> is set; the routes
/// hold null otherwise and do no hook work.</para>
/// </remarks>
internal sealed class PublishHook(HookClient client)
{
    private readonly string[] _forward = client.Options.ForwardHeaderNames();

    /// <summary>
    /// Asks the hook about <paramref name="commands"/> (one publish, or a batch when <paramref name="batch"/>), and
    /// replaces each with what the hook changed; returns the answer to give instead when it did not allow them.
    /// </summary>
    public async Task<IResult?> AskAsync(HttpContext context, string topic, PublishCommand[] commands, bool batch)
    {
        byte[] body = HookRequestJson.Object((context, topic, commands, batch, _forward), static (writer, state) =>
        {
            writer.WriteString("topic"u8, state.topic);
            if (state.batch)
            {
                writer.WriteStartArray("messages"u8);
                foreach (var command in state.commands)
                {
                    writer.WriteStartObject();
                    WriteMessage(writer, command);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            else
            {
                WriteMessage(writer, state.commands[0]);
            }
            HookRequestJson.WriteCaller(writer, state.context, state._forward, "forwarded");
        });
        return await DecideAsync(context, body, commands, batch);
    }

    /// <summary>
    /// Asks the hook about a broadcast (<c>POST /broadcast</c>): one call, with <c>"topics"</c> in place of <c>topic</c>
    /// and the one message's <c>value</c> and <c>headers</c>; what the hook changes, it changes for every topic.
    /// </summary>
    public Task<IResult?> AskBroadcastAsync(HttpContext context, PublishCommand[] commands)
    {
        byte[] body = HookRequestJson.Object((context, commands, _forward), static (writer, state) =>
        {
            writer.WriteStartArray("topics"u8);
            foreach (var command in state.commands) writer.WriteStringValue(command.Topic);
            writer.WriteEndArray();
            WriteMessage(writer, state.commands[0]);
            HookRequestJson.WriteCaller(writer, state.context, state._forward, "forwarded");
        });
        return DecideAsync(context, body, commands, batch: false);
    }

    /// <summary>Calls the hook with <paramref name="body"/> and applies its answer to <paramref name="commands"/>: per message for a batch, else the one answer to each.</summary>
    private async Task<IResult?> DecideAsync(HttpContext context, byte[] body, PublishCommand[] commands, bool batch)
    {
        var reply = await client.CallAsync(HookKind.Publish, body, context.RequestAborted);
        if (HookResults.NotAnAllow(HookKind.Publish, reply, client, context) is { } notAllowed) return notAllowed;
        PublishAnswer? answer;
        try
        {
            answer = JsonSerializer.Deserialize(reply.Body, HooksJsonContext.Default.PublishAnswer);
        }
        catch (JsonException bad)
        {
            return HookResults.BadAnswer(HookKind.Publish, $"its answer is not the hook JSON ({bad.Message})", client, context);
        }
        if (answer?.Allow is not { } allow) return HookResults.BadAnswer(HookKind.Publish, "its answer has no \"allow\": true or false", client, context);
        if (!allow)
        {
            client.Metrics.Refused(HookKind.Publish);
            return HookResults.Refused(HookKind.Publish, StatusCodes.Status403Forbidden, answer.Reason);
        }
        if (!batch)
        {
            // One publish, or a broadcast's one message on each of its topics.
            for (int i = 0; i < commands.Length; i++) commands[i] = Rewritten(commands[i], answer);
            return null;
        }
        if (answer.Messages is not { } messages) return null;
        if (messages.Length != commands.Length)
            return HookResults.BadAnswer(HookKind.Publish, $"its answer has {messages.Length} \"messages\" for a batch of {commands.Length}", client, context);
        for (int i = 0; i < commands.Length; i++) commands[i] = Rewritten(commands[i], messages[i]);
        return null;
    }

    /// <summary>The message's <c>value</c> and <c>headers</c>, copied from its encoded body.</summary>
    private static void WriteMessage(Utf8JsonWriter writer, PublishCommand command)
    {
        using var message = JsonDocument.Parse(command.Body);
        writer.WritePropertyName("value"u8);
        message.RootElement.GetProperty("value"u8).WriteTo(writer);
        writer.WritePropertyName("headers"u8);
        message.RootElement.GetProperty("headers"u8).WriteTo(writer);
    }

    /// <summary>The command with the value and headers the hook gave (each kept when not given); same time, same key.</summary>
    private static PublishCommand Rewritten(PublishCommand command, PublishAnswer answer)
    {
        if (answer.Value is null && answer.Headers is null) return command;
        using var message = JsonDocument.Parse(command.Body);
        var root = message.RootElement;
        // As a publish's own value: a string as it is, any other JSON as its text.
        string value = answer.Value is { } changed
            ? changed.ValueKind == JsonValueKind.String ? changed.GetString()! : changed.ValueKind == JsonValueKind.Null ? "" : changed.GetRawText()
            : root.GetProperty("value"u8).GetString()!;
        List<KeyValuePair<string, string>> headers = answer.Headers is { } given
            ? [.. given]
            : [.. root.GetProperty("headers"u8).EnumerateObject().Select(header => new KeyValuePair<string, string>(header.Name, header.Value.GetString()!))];
        return command with { Body = MessageJson.EncodeBody(command.Topic, value, headers, root.GetProperty("createdAt"u8).GetDateTimeOffset()) };
    }
}
