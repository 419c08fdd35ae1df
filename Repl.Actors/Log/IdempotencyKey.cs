namespace Repl.Actors.Log;

/// <summary>A publish's idempotency key as the window keeps it: topic and key, where it landed, when it was published.</summary>
internal readonly record struct IdempotencyKey(string Topic, string Key, long Position, long CreatedAtMs);
