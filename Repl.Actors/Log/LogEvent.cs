using Repl.Actors.Messages;

namespace Repl.Actors.Log;

/// <summary>What the sequencer persists: one entry of the log. Its position is the journal's sequence number.</summary>
/// <param name="Body">A publish's message JSON without its id (the journal adds it from the position). Empty for topic
/// changes, and for publishes replayed to the sequencer, whose state needs no body.</param>
/// <param name="Through">For <see cref="LogEntryKind.Truncate"/>: the topic's history up to this position goes.</param>
/// <param name="Key">For a publish: its idempotency key, if it had one (committed with it, so the window survives restarts).</param>
internal sealed record LogEvent(LogEntryKind Kind, string Topic, byte[] Body, long CreatedAtMs, long Through = 0, string? Key = null) : IReplMessage;
