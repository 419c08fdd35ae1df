namespace Repl.Actors.Messages;

/// <summary>A committed message framed for SSE once; every subscriber writes these same bytes.</summary>
public sealed class Frame(long position, string topic, byte[] bytes)
{
    public long Position { get; } = position;

    public string Topic { get; } = topic;

    /// <summary><c>id: position\ndata: json\n\n</c></summary>
    public byte[] Bytes { get; } = bytes;

    /// <summary>Its place in the topic's ring, set once by the log reader before readers can see it.</summary>
    internal long Sequence { get; set; }
}
