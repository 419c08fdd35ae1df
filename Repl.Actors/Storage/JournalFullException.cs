namespace Repl.Actors.Storage;

/// <summary>A write found the disk holding the journal full (SQLite's SQLITE_FULL): nothing of it was committed.</summary>
/// <remarks>
/// The journal is intact and still readable: the transaction rolled back. The log's writer refuses the write's publishes
/// (503) and goes on: the next write succeeds once space is freed, without a restart.
/// </remarks>
internal sealed class JournalFullException(string path, Exception inner)
    : IOException($"the disk holding the journal {path} is full: nothing of this write was committed. Publishing works again, " +
        "without a restart, once space is freed there", inner)
{
    public string Path { get; } = path;
}
