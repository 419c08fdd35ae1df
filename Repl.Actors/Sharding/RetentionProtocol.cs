using Repl.Actors.Messages;

namespace Repl.Actors.Sharding;

/// <summary>What the retention owner (<see cref="RetentionActor"/>, a cluster singleton) takes.</summary>
public static class RetentionProtocol
{
    /// <summary>
    /// Runs a round now, one that starts after this message arrived (the owner also runs one every
    /// <c>Node:RetentionInterval</c>). Answered <see cref="Ran"/> once every topic it told has answered.
    /// </summary>
    public sealed record Run : IReplMessage
    {
        public static readonly Run Instance = new();
    }

    /// <summary>A round's end: <paramref name="Position"/> is the last truncate it committed (0: none), so the asker can wait until it is applied on its node.</summary>
    public sealed record Ran(long Position) : IReplMessage;

    /// <summary>Typed key of the owner's singleton proxy in Akka.Hosting's actor registry.</summary>
    public sealed class Key;
}
