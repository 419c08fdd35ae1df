namespace Repl.Actors.Log;

/// <summary>What a log entry does to the state machine.</summary>
internal enum LogEntryKind : byte
{
    Publish = 1,
    CreateTopic = 2,
    DeleteTopic = 3,

    /// <summary>
    /// The topic's history up to <see cref="LogEntry.TruncatedThrough"/> goes: retention, committed by the topic's entity.
    /// With an empty topic, every topic's: synthesised (never committed) by a cluster node that lost part of the log
    /// (etcd compacted it before the node read it), whose history up to the position is incomplete and is dropped, so
    /// readers resuming into it get a gap instead of a silent hole.
    /// </summary>
    Truncate = 4,

    /// <summary>
    /// The topic's settings from here on, whole (<see cref="Topics.TopicSettings.ToJson"/> in the message's place): the
    /// sequencer merges a change into what the topic had, so each entry replaces the last. Its
    /// <see cref="LogEntry.Through"/> is the position that created the topic, which etcd's topic key keeps beside the
    /// settings (<see cref="Etcd.EtcdLog"/>).
    /// </summary>
    Settings = 5,
}

/// <summary>One committed command at its position in the log.</summary>
/// <param name="Position">Increases along the log; the same on every node that applies it.</param>
/// <param name="Message">For <see cref="LogEntryKind.Publish"/>: the message JSON, id included. For <see cref="LogEntryKind.Settings"/>: the
/// settings' JSON. Empty otherwise.</param>
/// <param name="Through">For <see cref="LogEntryKind.Truncate"/>: the topic's history up to this position goes (0: up to the entry's own position).
/// For <see cref="LogEntryKind.Settings"/>: the position that created the topic.</param>
/// <param name="Key">For a publish: its idempotency key, if it had one.</param>
internal readonly record struct LogEntry(long Position, LogEntryKind Kind, string Topic, byte[] Message, long CreatedAtMs, long Through = 0, string? Key = null)
{
    /// <summary>For a truncate: the last position whose history it removes.</summary>
    public long TruncatedThrough => Through > 0 ? Through : Position;
}
