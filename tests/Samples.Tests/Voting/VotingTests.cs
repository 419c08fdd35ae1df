using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Voting.LoadTest;
using Voting.Tally;

namespace Samples.Tests.Voting;

/// <summary>The voting sample end to end: a real node process, the tally in this process, the load test's checks.</summary>
public sealed class VotingTests : IAsyncLifetime
{
    private ReplNodeProcess _node = null!;

    public async Task InitializeAsync() => _node = await ReplNodeProcess.StartAsync("voting", etcd: null);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    private TallyService NewTally() => new(
        Microsoft.Extensions.Options.Options.Create(new TallyOptions { Node = _node.BaseAddress.ToString(), PartialEvery = 250 }),
        new HttpClient { BaseAddress = _node.BaseAddress, Timeout = Timeout.InfiniteTimeSpan },
        NullLogger<TallyService>.Instance);

    private LoadTestOptions LoadOptions(int voters) => new()
    {
        Node = _node.BaseAddress.ToString(), Voters = voters, Doubles = 0.02, Invalid = 0.01, Timeout = TimeSpan.FromSeconds(60),
    };

    [Fact]
    public async Task LoadTest_2000Voters_EveryValidVoteCountedOnce_DoublesAndInvalidRejected()
    {
        var tally = NewTally();
        await tally.StartAsync(CancellationToken.None);
        try
        {
            await tally.Live.WaitAsync(TimeSpan.FromSeconds(20));
            var report = await new LoadTest(LoadOptions(2000), TextWriter.Null).RunAsync(CancellationToken.None);

            Assert.True(report.Ok, string.Join("\n", report.Problems));
            Assert.Equal(report.Counted, report.Counts.Values.Sum());
            Assert.True(report.Rejected > 0);
            Assert.Equal(2000, report.Counted + report.Rejected - (report.Ballots - report.Voters));
        }
        finally
        {
            await tally.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task TallyRestartedMidVote_ReplaysVotes_NoConfirmationLostOrRepeated()
    {
        var first = NewTally();
        await first.StartAsync(CancellationToken.None);
        await first.Live.WaitAsync(TimeSpan.FromSeconds(20));
        var load = new LoadTest(LoadOptions(3000), TextWriter.Null).RunAsync(CancellationToken.None);

        // Stop the tally while ballots are still arriving; a new one must rebuild the state from the votes topic
        // and answer exactly the ballots the first one had not answered yet.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (first.State.Total < 500 && DateTime.UtcNow < deadline) await Task.Delay(20);
        await first.StopAsync(CancellationToken.None);
        long answeredBefore = first.State.Total;

        var second = NewTally();
        await second.StartAsync(CancellationToken.None);
        try
        {
            var report = await load.WaitAsync(TimeSpan.FromSeconds(90));
            Assert.True(report.Ok, string.Join("\n", report.Problems));
            Assert.InRange(answeredBefore, 500, report.Counted - 1);
            Assert.Equal(report.Counted, second.State.Total);
            Assert.True(second.State.Closed);
        }
        finally
        {
            await second.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task TallyRestartedAfterClose_RebuildsFinal_PublishesNothingAgain()
    {
        var first = NewTally();
        await first.StartAsync(CancellationToken.None);
        await first.Live.WaitAsync(TimeSpan.FromSeconds(20));
        var report = await new LoadTest(LoadOptions(300), TextWriter.Null).RunAsync(CancellationToken.None);
        Assert.True(report.Ok, string.Join("\n", report.Problems));
        await first.StopAsync(CancellationToken.None);
        long resultsBefore = await MessagesAsync("results");

        var second = NewTally();
        await second.StartAsync(CancellationToken.None);
        try
        {
            await second.Live.WaitAsync(TimeSpan.FromSeconds(20));
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!second.State.Closed && DateTime.UtcNow < deadline) await Task.Delay(20);
            Assert.Equal(first.Snapshot(), second.Snapshot());
            // A late ballot is answered once ("voting closed"), and nothing from the replay is published again.
            using var late = await _node.Client.PostAsync("/topics/votes", new StringContent("{\"value\":\"{\\\"userId\\\":\\\"late\\\",\\\"option\\\":\\\"A\\\"}\"}"));
            late.EnsureSuccessStatusCode();
            deadline = DateTime.UtcNow.AddSeconds(20);
            while (await MessagesAsync("results") == resultsBefore && DateTime.UtcNow < deadline) await Task.Delay(50);
            await Task.Delay(700); // longer than a partial interval: any stray republish would show up
            Assert.Equal(resultsBefore + 1, await MessagesAsync("results"));
            using var page = JsonDocument.Parse(await _node.Client.GetStringAsync($"/topics/results/messages?after={await LastPositionAsync("results") - 1}&limit=1"));
            string last = page.RootElement.GetProperty("messages")[0].GetProperty("value").GetString()!;
            Assert.Contains("voting closed", last);
        }
        finally
        {
            await second.StopAsync(CancellationToken.None);
        }
    }

    private async Task<long> MessagesAsync(string topic)
    {
        using var info = JsonDocument.Parse(await _node.Client.GetStringAsync($"/topics/{topic}"));
        return info.RootElement.GetProperty("messages").GetInt64();
    }

    private async Task<long> LastPositionAsync(string topic)
    {
        using var info = JsonDocument.Parse(await _node.Client.GetStringAsync($"/topics/{topic}"));
        return info.RootElement.GetProperty("lastPosition").GetInt64();
    }
}
