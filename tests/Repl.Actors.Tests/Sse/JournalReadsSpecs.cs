using Repl.Sse;

namespace Repl.Actors.Tests.Sse;

/// <summary>The node's journal reads for streams behind their rings: bounded, in order, and shared by streams that ask for the same page.</summary>
public sealed class JournalReadsSpecs
{
    [Fact]
    public async Task StreamsAskingForTheSamePage_ShareOneRead_AndEachGetsItsOwnGaps()
    {
        await using var fixture = new SseGraphFixture(16, "a");
        long start = fixture.Position;
        fixture.Publish(40, "a");
        fixture.Truncate("a");
        var started = new List<Action>();
        var reads = new JournalReads(2, fixture.Counters, started.Add);
        var connection = fixture.Connection(start, "a");
        var pages = new List<JournalPage>();
        // Two streams that already reported the truncation, two that did not.
        var gapsSaid = new Dictionary<string, long> { ["a"] = fixture.Topic("a").TrimmedThrough };
        for (int i = 0; i < 4; i++)
        {
            reads.Start(connection, connection.Topics, start, fixture.Position, i < 2 ? new(gapsSaid) : new(StringComparer.Ordinal), new SseOptions(), pages.Add);
        }

        Assert.Single(started);
        started[0]();
        Assert.Equal(4, pages.Count);
        Assert.Equal(1, fixture.Counters.JournalReads);
        Assert.Equal(3, fixture.Counters.JournalReadsShared);
        Assert.All(pages, page => Assert.Same(pages[0].Frames, page.Frames));
        Assert.Equal([0, 0, 1, 1], pages.Select(page => page.Gaps.Count));
    }

    [Fact]
    public async Task AtMostReadersRunAtOnce_TheRestWaitTheirTurn_InOrder()
    {
        await using var fixture = new SseGraphFixture(16, "a", "b", "c");
        long start = fixture.Position;
        fixture.Publish(5, "a", "b", "c");
        var started = new List<Action>();
        var reads = new JournalReads(2, fixture.Counters, started.Add);
        var done = new List<string>();
        foreach (var topic in new[] { "a", "b", "c", "a" })
        {
            var connection = fixture.Connection(start, topic);
            reads.Start(connection, connection.Topics, start, fixture.Position, new(StringComparer.Ordinal), new SseOptions(),
                page => done.Add(page.Frames[0].Topic));
        }

        // Two readers for three pages (the second "a" joined the first): the first reader reads all that is queued.
        Assert.Equal(2, started.Count);
        started[0]();
        Assert.Equal(["a", "a", "b", "c"], done);
        started[1]();
        Assert.Equal(4, done.Count);
        Assert.Equal(3, fixture.Counters.JournalReads);

        // Both readers are gone: the next read starts one.
        var again = fixture.Connection(start, "b");
        reads.Start(again, again.Topics, start, fixture.Position, new(StringComparer.Ordinal), new SseOptions(), page => done.Add(page.Frames[0].Topic));
        Assert.Equal(3, started.Count);
        started[2]();
        Assert.Equal("b", done[^1]);
    }
}
