namespace Repl.Actors.Storage;

/// <summary>The journal file cannot be opened as a Repl journal: damaged, or not a database at all.</summary>
/// <remarks>The node does not start on it, and says which file: restarting would only fail the same way.</remarks>
public sealed class JournalDamagedException(string path, Exception inner)
    : Exception($"the journal file {path} is damaged or is not a Repl journal ({inner.Message}). Nothing was changed in it: " +
        "restore it from a backup, or move it aside to start this node with an empty journal.", inner)
{
    public string Path { get; } = path;
}
