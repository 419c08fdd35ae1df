using System.Text.Json;
using Spectre.Console;

namespace Repl.Cli;

/// <summary>Where a command writes: Spectre consoles for people, the raw writers for <c>--json</c>.</summary>
/// <remarks>Colours and cursor movement only when writing to a terminal: redirected output, a captured writer or
/// <c>NO_COLOR</c> gives plain text.</remarks>
internal sealed class CliOutput
{
    public CliOutput(TextWriter stdout, TextWriter stderr, bool json, bool plain)
    {
        Out = stdout;
        Err = stderr;
        Json = json;
        Console = Create(stdout, plain);
        ErrorConsole = Create(stderr, plain);
    }

    public TextWriter Out { get; }

    public TextWriter Err { get; }

    /// <summary>True with <c>--json</c>: one JSON document (or JSON lines) on stdout.</summary>
    public bool Json { get; }

    public IAnsiConsole Console { get; }

    public IAnsiConsole ErrorConsole { get; }

    public void WriteJson(string json)
    {
        Out.WriteLine(json);
        Out.Flush();
    }

    public void WriteJson<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) => WriteJson(JsonSerializer.Serialize(value, type));

    /// <summary>An error for the user: JSON on stderr with <c>--json</c>, a red line otherwise.</summary>
    public void Error(string error, string cause, int? status = null)
    {
        if (Json)
        {
            Err.WriteLine(JsonSerializer.Serialize(new CliError(error, cause, status), CliJsonContext.Default.CliError));
            Err.Flush();
            return;
        }
        ErrorConsole.MarkupLine(status is { } code
            ? $"[red]error {code}:[/] {Markup.Escape(error)}{(cause.Length > 0 ? " — " + Markup.Escape(cause) : "")}"
            : $"[red]error:[/] {Markup.Escape(error)}{(cause.Length > 0 ? " — " + Markup.Escape(cause) : "")}");
    }

    /// <summary>A side note for people (connected, reconnecting): stderr, so it never mixes with data.</summary>
    public void Note(string markup)
    {
        if (!Json) ErrorConsole.MarkupLine(markup);
    }

    private static IAnsiConsole Create(TextWriter writer, bool plain)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = plain ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = plain ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = plain ? InteractionSupport.No : InteractionSupport.Detect,
            Out = new AnsiConsoleOutput(writer),
        });
        // A pipe has no width; tables would otherwise wrap at 80 columns.
        if (plain) console.Profile.Width = 160;
        return console;
    }
}
