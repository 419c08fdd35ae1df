using Repl.Actors.Messages;
using Repl.Actors.Topics;

namespace Repl.Actors.Tests.Topics;

public sealed class FrameRingTests
{
    private static Frame FrameAt(long position) => new(position, "t", new byte[10]);

    [Fact]
    public void TryRead_ReturnsFramesAfterTheCursor_UpToTheWatermark()
    {
        var ring = new FrameRing(8, coveredFrom: 0);
        foreach (var position in new long[] { 2, 5, 7, 9 }) ring.Append(FrameAt(position));
        var frames = new List<Frame>();
        Assert.True(ring.TryRead(after: 4, upTo: 8, frames, maxBytes: 1000));
        Assert.Equal([5L, 7L], frames.Select(frame => frame.Position));
    }

    [Fact]
    public void TryRead_StopsAtTheByteBudget()
    {
        var ring = new FrameRing(8, coveredFrom: 0);
        for (long position = 1; position <= 6; position++) ring.Append(FrameAt(position));
        var frames = new List<Frame>();
        Assert.True(ring.TryRead(after: 0, upTo: 6, frames, maxBytes: 25));
        Assert.Equal([1L, 2L, 3L], frames.Select(frame => frame.Position));
    }

    [Fact]
    public void TryRead_RefusesACursorOlderThanWhatTheRingHolds()
    {
        var ring = new FrameRing(4, coveredFrom: 0);
        for (long position = 1; position <= 10; position++) ring.Append(FrameAt(position));
        var frames = new List<Frame>();
        Assert.False(ring.TryRead(after: 3, upTo: 10, frames, maxBytes: 1000));
        Assert.Empty(frames);
        Assert.True(ring.TryRead(after: 6, upTo: 10, frames, maxBytes: 1000));
        Assert.Equal([7L, 8L, 9L, 10L], frames.Select(frame => frame.Position));
    }

    [Fact]
    public void TryRead_BeforeTheRingStarted_SendsTheReaderToTheJournal()
    {
        var ring = new FrameRing(4, coveredFrom: 100);
        ring.Append(FrameAt(101));
        Assert.False(ring.TryRead(after: 50, upTo: 101, [], 1000));
    }

    [Fact]
    public async Task ConcurrentReaders_NeverSeeAHoleOrADisorder()
    {
        var ring = new FrameRing(16, coveredFrom: 0);
        const long last = 200_000;
        var writer = Task.Run(() =>
        {
            for (long position = 1; position <= last; position++) ring.Append(FrameAt(position));
        });
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            long cursor = 0, fallbacks = 0;
            var frames = new List<Frame>();
            while (cursor < last)
            {
                frames.Clear();
                if (!ring.TryRead(cursor, long.MaxValue, frames, 1000))
                {
                    // Fell behind: a real sink reads the journal; here we skip to what the ring covers.
                    fallbacks++;
                    cursor = ring.CoveredFrom;
                    continue;
                }
                foreach (var frame in frames)
                {
                    Assert.Equal(cursor + 1, frame.Position);
                    cursor = frame.Position;
                }
            }
            return fallbacks;
        })).ToArray();
        await writer;
        await Task.WhenAll(readers);
    }
}
