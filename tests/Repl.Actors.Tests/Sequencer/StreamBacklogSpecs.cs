using Repl.Actors.Sequencer;

namespace Repl.Actors.Tests.Sequencer;

/// <summary>The node's streams' lag, as the batcher sees it.</summary>
public sealed class StreamBacklogSpecs
{
    [Fact]
    public void NotBehind_NothingIsHeld()
    {
        var backlog = new StreamBacklog(limit: 10);
        backlog.Report(10);
        Assert.False(backlog.Hold(() => throw new InvalidOperationException("not held")));
        Assert.False(backlog.Waiting);
        Assert.Equal(0, backlog.Holds);
    }

    [Fact]
    public void Behind_TheHoldIsReleasedOnce_WhenAReportComesBackUnderTheLimit()
    {
        var backlog = new StreamBacklog(limit: 10);
        int released = 0;
        backlog.Report(11);
        Assert.True(backlog.Hold(() => released++));
        backlog.HoldStarted();
        Assert.True(backlog.Waiting);

        backlog.Report(50);
        Assert.Equal(0, released);
        backlog.Report(3);
        backlog.Report(0);
        Assert.Equal(1, released);
        Assert.False(backlog.Waiting);
        Assert.Equal(1, backlog.Holds);
    }
}
