using Repl.Cli.Api;

namespace Repl.Cli;

/// <summary>What a command's action gets: the node's API, the output and the Ctrl+C token.</summary>
internal sealed record CommandContext(ReplApi Api, CliOutput Output, CancellationToken Cancellation);
