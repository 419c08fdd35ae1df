using Repl.Actors.Actors;

namespace Repl.Actors.Tests.Actors;

public sealed class ActorTests
{
    private sealed class Echo(TestProbe<string> probe) : Actor<string>
    {
        public List<Exception> Failures { get; } = [];

        protected override ValueTask HandleAsync(string message)
        {
            if (message == "boom") throw new InvalidOperationException("boom");
            probe.Tell(message);
            return ValueTask.CompletedTask;
        }

        protected override void OnFailure(string message, Exception error)
        {
            Failures.Add(error);
            probe.Tell("failed:" + message);
        }
    }

    [Fact]
    public async Task Messages_AreHandledInOrder()
    {
        var probe = new TestProbe<string>();
        await using var actor = new Echo(probe);
        actor.Start();
        for (int i = 0; i < 100; i++) actor.Tell(i.ToString());
        for (int i = 0; i < 100; i++) Assert.Equal(i.ToString(), await probe.ExpectAsync());
    }

    [Fact]
    public async Task Failure_IsReported_AndTheActorGoesOn()
    {
        var probe = new TestProbe<string>();
        await using var actor = new Echo(probe);
        actor.Start();
        actor.Tell("a");
        actor.Tell("boom");
        actor.Tell("b");
        Assert.Equal("a", await probe.ExpectAsync());
        Assert.Equal("failed:boom", await probe.ExpectAsync());
        Assert.Equal("b", await probe.ExpectAsync());
    }

    [Fact]
    public async Task Dispose_DrainsQueuedMessages_ThenRefusesNewOnes()
    {
        var probe = new TestProbe<string>();
        var actor = new Echo(probe);
        for (int i = 0; i < 10; i++) actor.Tell(i.ToString());
        actor.Start();
        await actor.DisposeAsync();
        for (int i = 0; i < 10; i++) Assert.Equal(i.ToString(), await probe.ExpectAsync());
        Assert.False(actor.Tell("late"));
        await probe.ExpectNoMessageAsync(TimeSpan.FromMilliseconds(100));
    }
}
