namespace Repl.Actors.Storage;

/// <summary>A message as the journal holds it: its position, topic and JSON (id included).</summary>
public readonly record struct StoredMessage(long Position, string Topic, byte[] Json);
