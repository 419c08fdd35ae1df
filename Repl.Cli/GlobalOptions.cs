using System.CommandLine;

namespace Repl.Cli;

/// <summary>The options every command takes: <c>--url</c>, <c>--json</c>, <c>--token</c>.</summary>
internal sealed class GlobalOptions
{
    public const string DefaultUrl = "http://localhost:9000";

    public GlobalOptions(Func<string, string?> environment)
    {
        Url = new Option<string>("--url")
        {
            Description = $"The node's base URL (env REPL_URL; default {DefaultUrl})",
            Recursive = true,
            DefaultValueFactory = _ => environment("REPL_URL") is { Length: > 0 } url ? url : DefaultUrl,
        };
        Json = new Option<bool>("--json") { Description = "Machine output: one JSON document, or JSON lines for tail", Recursive = true };
        Token = new Option<string?>("--token")
        {
            Description = "A bearer token sent as Authorization: Bearer (env REPL_TOKEN)",
            Recursive = true,
            DefaultValueFactory = _ => environment("REPL_TOKEN") is { Length: > 0 } token ? token : null,
        };
    }

    public Option<string> Url { get; }

    public Option<bool> Json { get; }

    public Option<string?> Token { get; }

    public void AddTo(Command root)
    {
        root.Options.Add(Url);
        root.Options.Add(Json);
        root.Options.Add(Token);
    }
}
