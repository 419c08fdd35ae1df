namespace Repl.Actors.Messages;

/// <summary>
/// Marks a message that may cross a process (remoting, sharding, the singleton proxy) or be stored (events, snapshots):
/// it is bound to <c>Repl.Actors.Serialization.ReplSerializer</c> in HOCON, never to the default JSON serializer.
/// </summary>
public interface IReplMessage;
