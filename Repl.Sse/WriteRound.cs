using System.Buffers;
using System.IO.Pipelines;
using Repl.Actors.Messages;

namespace Repl.Sse;

/// <summary>
/// What one connection writes and flushes in one go: control events (<c>connected</c>, <c>gap</c>) then every frame the
/// cursor moved over, then closing events (<c>deleted</c>, <c>expired</c>, ...) or a <c>ping</c>: what a connection's
/// stage (<see cref="ConnectionStage"/>) takes from the log in one go.
/// </summary>
/// <remarks>
/// A whole round, never a single message, is a write: under load one write carries hundreds of frames. A round is
/// built and written in one go on the streams' thread, so the streams of a thread share one (<see cref="OfThisThread"/>),
/// refilled for each round once the last one's bytes are in its writer: reused, not allocated per write, and not held
/// by each of 9,000 idle streams (~0.2 KB each with its lists). Only a stream waiting for a journal page keeps the
/// round it had started (<see cref="Copy"/>). It holds references to the shared frames, never copies of their bytes.
/// </remarks>
internal sealed class WriteRound
{
    [ThreadStatic]
    private static WriteRound? t_round;

    /// <summary>
    /// This thread's round, empty. Valid until the round is written: whatever runs in between must not start another
    /// (a stage builds and writes its round without calling out to other streams).
    /// </summary>
    public static WriteRound OfThisThread()
    {
        var round = t_round ??= new WriteRound();
        round.Clear();
        return round;
    }

    /// <summary>A round of its own with this one's events, for a stream that goes on with it later (its frames are not copied).</summary>
    public WriteRound Copy() => new() { _head = _head is { Count: > 0 } ? [.. _head] : null, _tail = _tail is { Count: > 0 } ? [.. _tail] : null };

    // Each list is made on first use: a copy kept across a journal read holds only the events it had.
    private List<byte[]>? _head;
    private List<byte[]>? _tail;
    private List<Frame>? _frames;

    /// <summary>The frames, in log order.</summary>
    public List<Frame> Frames => _frames ??= [];

    /// <summary>Messages this round delivers.</summary>
    public int Messages => _frames?.Count ?? 0;

    public bool IsEmpty => Messages == 0 && _head is not { Count: > 0 } && _tail is not { Count: > 0 };

    /// <summary>Adds an event written before the frames.</summary>
    public void AddHead(byte[] sseEvent) => (_head ??= []).Add(sseEvent);

    /// <summary>Adds an event written after the frames.</summary>
    public void AddTail(byte[] sseEvent) => (_tail ??= []).Add(sseEvent);

    /// <summary>The events written after the frames, to add to.</summary>
    public List<byte[]> Tail => _tail ??= [];

    public void Clear()
    {
        _head?.Clear();
        _tail?.Clear();
        // Capacity is kept: it would otherwise be reallocated every round.
        _frames?.Clear();
    }

    /// <summary>Copies the round into <paramref name="writer"/> without flushing.</summary>
    public void WriteTo(PipeWriter writer)
    {
        if (_head is { Count: > 0 }) foreach (var bytes in _head) writer.Write(bytes);
        if (_frames is { Count: > 0 }) WriteFrames(writer, _frames);
        if (_tail is { Count: > 0 }) foreach (var bytes in _tail) writer.Write(bytes);
    }

    /// <summary>
    /// Copies frames into as few pipe segments as they fit in. Kestrel frames every Advance as its own HTTP chunk
    /// (header, lock); one Write per frame made that the top cost of a fan-out round in the bench profile.
    /// </summary>
    private static void WriteFrames(PipeWriter writer, List<Frame> frames)
    {
        int next = 0;
        while (next < frames.Count)
        {
            var span = writer.GetSpan(frames[next].Bytes.Length);
            int used = 0;
            while (next < frames.Count && frames[next].Bytes.Length <= span.Length - used)
            {
                frames[next].Bytes.CopyTo(span[used..]);
                used += frames[next].Bytes.Length;
                next++;
            }
            writer.Advance(used);
        }
    }
}
