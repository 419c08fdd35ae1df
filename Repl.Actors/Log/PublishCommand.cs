namespace Repl.Actors.Log;

/// <summary>A message on its way into the log, before it has a position.</summary>
/// <param name="Body">The message JSON object without its id (<see cref="Messages.MessageJson"/> adds it once the position is known).</param>
/// <param name="Key">The publisher's idempotency key: a publish with the same topic and key within the window is committed once.</param>
/// <param name="TraceParent">The publish span's W3C <c>traceparent</c>, when tracing is on: the trace crosses the engine's
/// mailboxes (and processes) inside the command, where <c>Activity.Current</c> cannot go.</param>
public readonly record struct PublishCommand(string Topic, byte[] Body, long CreatedAtMs, string? Key = null, string? TraceParent = null);
