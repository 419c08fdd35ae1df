namespace Repl.Actors.Storage;

/// <summary>A topic as the journal knows it.</summary>
/// <param name="Created">Position of the entry that created it.</param>
/// <param name="TrimmedThrough">Highest position removed by retention (0: nothing removed). A reader behind it has a gap.</param>
public readonly record struct TopicRecord(string Name, long Created, long TrimmedThrough);
