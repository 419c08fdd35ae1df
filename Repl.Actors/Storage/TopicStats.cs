namespace Repl.Actors.Storage;

/// <summary>How much history a topic holds: count and first/last positions (0 when empty).</summary>
public readonly record struct TopicStats(long Messages, long FirstPosition, long LastPosition);
