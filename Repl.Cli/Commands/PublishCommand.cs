using System.CommandLine;
using System.Text.Json;
using Repl.Cli.Api;
using Spectre.Console;

namespace Repl.Cli.Commands;

/// <summary><c>repl publish TOPIC VALUE [--header k=v]...</c>: one message, printed back with its id.</summary>
internal static class PublishCommand
{
    public static Command Create(ReplCli cli)
    {
        var topic = new Argument<string>("topic") { Description = "The topic to publish to" };
        var value = new Argument<string>("value") { Description = "The message value (a string; JSON text is sent as is, as a string)" };
        var headers = new Option<string[]>("--header", "-H") { Description = "A header as key=value (repeatable)", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("publish", "Publish one message to a topic") { topic, value, headers };
        command.SetAction((parsed, cancellation) => cli.RunAsync(parsed, cancellation, async context =>
        {
            string body = JsonSerializer.Serialize(new PublishBody(parsed.GetValue(value)!, ParseHeaders(parsed.GetValue(headers) ?? [])), CliJsonContext.Default.PublishBody);
            string answer = await context.Api.PostJsonAsync(ReplApi.TopicPath(parsed.GetValue(topic)!), body, context.Cancellation).ConfigureAwait(false);
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
