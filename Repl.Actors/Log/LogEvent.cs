using Repl.Actors.Messages;

namespace Repl.Actors.Log;

/// <summary>What the sequencer persists: one entry of the log. Its position is the journal's sequence number.</summary>
/// <param name="Body">A publish's message JSON without its id (the journal adds it from the position); a settings entry's
/// settings JSON. Empty for other topic changes, and for publishes replayed to the sequencer, whose state needs no body.</param>
/// <param name="Through">For <see cref="LogEntryKind.Truncate"/>: the topic's history up to this position goes. For
/// <see cref="LogEntryKind.Settings"/>: the position that created the topic.</param>
/// <param name="Key">For a publish: its idempotency key, if it had one (committed with it, so the window survives restarts).</param>
internal sealed record LogEvent(LogEntryKind Kind, string Topic, byte[] Body, long CreatedAtMs, long Through = 0, string? Key = null) : IReplMessage
{
    /// <summary>
    /// A publish's message JSON with its id, built by the sequencer for the position it persists the event at, when its
    /// node's journal keeps whole messages (standalone): the journal stores these bytes and the node's reader hands them
    /// on, so each message is built once. Null otherwise; never serialized (the etcd journal and the serializer write
    /// <see cref="Body"/>).
    /// </summary>
    public byte[]? Message { get; init; }

    /// <summary>The message JSON of a publish persisted at <paramref name="position"/> (a settings entry's settings, empty for other topic changes).</summary>
    /// <remarks>
    /// <see cref="Message"/> when it was built for that position, checked by its id: the sequencer's position for an
    /// event is Akka.Persistence's next sequence number, which it does not hand out, so a message built for another
    /// position (a bug, never seen) is built again rather than stored with the wrong id.
    /// </remarks>
    public byte[] MessageAt(long position) =>
        Kind == LogEntryKind.Settings ? Body
        : Kind != LogEntryKind.Publish ? []
        : Message is { } message && MessageJson.HasId(message, position) ? message
        : MessageJson.WithId(position, Body);
}
