using System.CommandLine;
using System.Text.Json;
using Repl.Cli.Api;
using Spectre.Console;

namespace Repl.Cli.Commands;

/// <summary><c>repl cluster</c>: the node's view of its cluster (<c>GET /cluster</c>).</summary>
/// <remarks>
/// A standalone node has no cluster: that is reported plainly (exit 0, or <c>{"mode":"standalone",...}</c> with
/// <c>--json</c>). A clustered node without the route (an older version) is an error (exit 1). The view is rendered
/// generically (scalar fields as a grid, arrays of objects as tables) so the CLI does not break when it grows fields.
/// </remarks>
internal static class ClusterCommand
{
    public static Command Create(ReplCli cli)
    {
        var command = new Command("cluster", "Show the cluster: members, leader, positions (a clear note for a standalone node)");
        command.SetAction((parsed, cancellation) => cli.RunAsync(parsed, cancellation, async context =>
        {
            string view;
            try
            {
                view = await context.Api.GetAsync("cluster", context.Cancellation).ConfigureAwait(false);
            }
            catch (ServerErrorException error) when (error.Status == 404)
            {
                return await NoClusterRouteAsync(context).ConfigureAwait(false);
            }
            if (context.Output.Json)
            {
                context.Output.WriteJson(JsonDocument.Parse(view).RootElement.GetRawText());
                return ExitCodes.Ok;
            }
            using var document = JsonDocument.Parse(view);
            Render(context.Output.Console, document.RootElement);
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static async Task<int> NoClusterRouteAsync(CommandContext context)
    {
        string health = await context.Api.GetAsync("health", context.Cancellation).ConfigureAwait(false);
        using var document = JsonDocument.Parse(health);
        string mode = document.RootElement.TryGetProperty("mode", out var m) ? m.ToString() : "";
        string node = document.RootElement.TryGetProperty("node", out var n) ? n.ToString() : "";
        if (mode is "standalone" or "")
        {
            if (context.Output.Json)
            {
                context.Output.WriteJson(new StandaloneCluster("standalone", node, context.Api.BaseAddress.ToString()), CliJsonContext.Default.StandaloneCluster);
            }
            else
            {
                context.Output.Console.MarkupLine(
                    $"[blue]{Markup.Escape(node)}[/] at {Markup.Escape(context.Api.BaseAddress.ToString())} is a [bold]standalone[/] node: no cluster to show.");
            }
            return ExitCodes.Ok;
        }
        throw new ServerErrorException(404, "no cluster view",
            $"the node at {context.Api.BaseAddress} runs in {mode} mode but has no GET /cluster route (an older version?)");
    }

    private static void Render(IAnsiConsole console, JsonElement view)
    {
        if (view.ValueKind != JsonValueKind.Object)
        {
            console.WriteLine(view.GetRawText());
            return;
        }
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        var tables = new List<(string Name, JsonElement Rows)>();
        foreach (var property in view.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.Array && property.Value.EnumerateArray().Any(item => item.ValueKind == JsonValueKind.Object))
            {
                tables.Add((property.Name, property.Value));
            }
            else
            {
                grid.AddRow($"[grey]{Markup.Escape(property.Name)}[/]", Markup.Escape(Scalar(property.Value)));
            }
        }
        console.Write(grid);
        foreach (var (name, rows) in tables)
        {
            var columns = rows.EnumerateArray().Where(row => row.ValueKind == JsonValueKind.Object)
                .SelectMany(row => row.EnumerateObject().Select(field => field.Name)).Distinct().ToList();
            var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(name));
            foreach (var column in columns) table.AddColumn(Markup.Escape(column));
            foreach (var row in rows.EnumerateArray().Where(row => row.ValueKind == JsonValueKind.Object))
            {
                table.AddRow([.. columns.Select(column => Markup.Escape(row.TryGetProperty(column, out var cell) ? Scalar(cell) : ""))]);
            }
            console.Write(table);
        }
    }

    private static string Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Null => "",
        JsonValueKind.True => "yes",
        JsonValueKind.False => "no",
        _ => value.GetRawText(),
    };
}
