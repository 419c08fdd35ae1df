namespace Repl.Cli.Api;

/// <summary>A value the parser accepted but the command cannot use (a header without <c>=</c>, a bad URL).</summary>
internal sealed class UsageException(string message) : Exception(message);
