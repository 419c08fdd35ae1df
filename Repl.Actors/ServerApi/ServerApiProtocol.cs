using Repl.Actors.Messages;

namespace Repl.Actors.ServerApi;

/// <summary>
/// What the node that takes a server API call (<c>POST /disconnect</c>, <c>DELETE /topics/{name}/clients/{client}</c>)
/// asks every broker's streams actor, itself included: a stream lives on one node, and the call may come to any.
/// </summary>
/// <remarks>Sent to each Up broker once per call, and answered; rare admin calls, so a message per node is fine.</remarks>
public static class ServerApiProtocol
{
    /// <summary>
    /// End every stream of <paramref name="User"/> on the node, each after <c>event: disconnect</c> with
    /// <paramref name="Reason"/>, and refuse the user's new streams there until <paramref name="UntilMs"/> (Unix ms; 0: none).
    /// Answered <see cref="Done"/> with the streams ended.
    /// </summary>
    public sealed record Disconnect(string User, string Reason, long UntilMs) : IReplMessage;

    /// <summary>Take the stream <paramref name="Client"/> off <paramref name="Topic"/>, if the node holds it. Answered <see cref="Done"/> (0 or 1).</summary>
    public sealed record Unsubscribe(string Client, string Topic) : IReplMessage;

    /// <summary>How many of the node's streams the call reached.</summary>
    public sealed record Done(int Streams) : IReplMessage;

    /// <summary>Typed key of the node's streams actor in Akka.Hosting's actor registry.</summary>
    public sealed class Key;

    /// <summary>The streams actor's name under <c>/user</c>, the same on every broker: the caller addresses each node's by it.</summary>
    public const string ActorName = "server-api";
}
