using System.CommandLine;
using System.Text.Json;
using Repl.Cli.Api;
using Spectre.Console;

namespace Repl.Cli.Commands;

/// <summary><c>repl topics</c>: every topic with its subscribers, message count and positions.</summary>
internal static class TopicsCommand
{
    public static Command Create(ReplCli cli)
    {
        var command = new Command("topics", "List the node's topics with subscribers, messages and positions");
        command.SetAction((parsed, cancellation) => cli.RunAsync(parsed, cancellation, async context =>
        {
            string names = await context.Api.GetAsync("topics", context.Cancellation).ConfigureAwait(false);
            string[] topics = JsonSerializer.Deserialize(names, CliJsonContext.Default.StringArray) ?? [];
            var infos = new string?[topics.Length];
            await Parallel.ForAsync(0, topics.Length, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = context.Cancellation }, async (i, token) =>
            {
                try
                {
                    infos[i] = await context.Api.GetAsync(ReplApi.TopicPath(topics[i]), token).ConfigureAwait(false);
                }
                catch (ServerErrorException error) when (error.Status == 404)
                {
                    // Deleted between the list and the info: leave it out.
                }
            }).ConfigureAwait(false);
            var present = infos.OfType<string>().ToArray();
            if (context.Output.Json)
            {
                context.Output.WriteJson("[" + string.Join(',', present.Select(info => JsonDocument.Parse(info).RootElement.GetRawText())) + "]");
                return ExitCodes.Ok;
            }
            if (present.Length == 0)
            {
                context.Output.Console.MarkupLine("[grey]no topics[/]");
                return ExitCodes.Ok;
            }
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn("topic").AddColumn(new TableColumn("subscribers").RightAligned()).AddColumn(new TableColumn("messages").RightAligned())
                .AddColumn(new TableColumn("first").RightAligned()).AddColumn(new TableColumn("last").RightAligned()).AddColumn("active");
            foreach (var info in present)
            {
                using var document = JsonDocument.Parse(info);
                var topic = document.RootElement;
                table.AddRow(
                    Markup.Escape(Field(topic, "name")), Field(topic, "subscribers"), Field(topic, "messages"),
                    Field(topic, "firstPosition"), Field(topic, "lastPosition"), Field(topic, "active") == "True" ? "[green]yes[/]" : "[grey]idle[/]");
            }
            context.Output.Console.Write(table);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static string Field(JsonElement element, string name) => element.TryGetProperty(name, out var value) ? value.ToString() : "";
}
