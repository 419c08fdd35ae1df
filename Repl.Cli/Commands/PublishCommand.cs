using System.CommandLine;
using System.Text.Json;
using Repl.Cli.Api;
using Spectre.Console;

namespace Repl.Cli.Commands;

/// <summary><c>repl publish TOPIC VALUE [--header k=v]... [--idempotency-key KEY]</c>: one message, printed back with its id.</summary>
/// <remarks>
/// The command does not retry by itself. A script that retries it (after exit 1 with a 503, or exit 3) passes the same
/// <c>--idempotency-key</c> each time: the node commits the message once and answers every retry with the first message.
/// </remarks>
internal static class PublishCommand
{
    /// <summary>What the node accepts as a key: 1–200 visible ASCII characters.</summary>
    private const int MaxKeyLength = 200;

    public static Command Create(ReplCli cli)
    {
        var topic = new Argument<string>("topic") { Description = "The topic to publish to" };
        var value = new Argument<string>("value") { Description = "The message value (a string; JSON text is sent as is, as a string)" };
        var headers = new Option<string[]>("--header", "-H") { Description = "A header as key=value (repeatable)", Arity = ArgumentArity.ZeroOrMore };
        var key = new Option<string?>("--idempotency-key")
        {
            Description = "Sent as Idempotency-Key: a retry with the same key is committed once and answered with the first message",
        };
        var command = new Command("publish", "Publish one message to a topic") { topic, value, headers, key };
        command.SetAction((parsed, cancellation) => cli.RunAsync(parsed, cancellation, async context =>
        {
            string? idempotencyKey = CheckKey(parsed.GetValue(key));
            string body = JsonSerializer.Serialize(new PublishBody(parsed.GetValue(value)!, ParseHeaders(parsed.GetValue(headers) ?? [])), CliJsonContext.Default.PublishBody);
            string answer = await context.Api.PublishAsync(ReplApi.TopicPath(parsed.GetValue(topic)!), body, idempotencyKey, context.Cancellation).ConfigureAwait(false);
            using var document = JsonDocument.Parse(answer);
            var message = document.RootElement.GetProperty("data");
            if (context.Output.Json)
            {
                context.Output.WriteJson(message.GetRawText());
            }
            else
            {
                context.Output.Console.MarkupLine(
                    $"published [green]#{Markup.Escape(message.GetProperty("id").ToString())}[/] to [blue]{Markup.Escape(parsed.GetValue(topic)!)}[/]");
            }
            return ExitCodes.Ok;
        }));
        return command;
    }

    // Checked here: a key HttpClient cannot send would otherwise fail as an unreachable node, not as a usage error.
    private static string? CheckKey(string? key) =>
        key is null || (key.Length is > 0 and <= MaxKeyLength && key.All(c => c is > ' ' and <= '~'))
            ? key
            : throw new UsageException($"--idempotency-key must be 1–{MaxKeyLength} visible ASCII characters (a UUID is a good key)");

    internal static Dictionary<string, string> ParseHeaders(string[] pairs)
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            int equals = pair.IndexOf('=');
            if (equals <= 0) throw new UsageException($"--header '{pair}' is not key=value");
            headers[pair[..equals]] = pair[(equals + 1)..];
        }
        return headers;
    }
}
