namespace Repl.Actors.Log;

/// <summary>A message on its way into the log, before it has a position.</summary>
/// <param name="Body">The message JSON object without its id (<see cref="Messages.MessageJson"/> adds it once the position is known).</param>
public readonly record struct PublishCommand(string Topic, byte[] Body, long CreatedAtMs);
