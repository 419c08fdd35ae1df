using Repl.Bench;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Bench;

/// <summary>
/// The load program (bench/Repl.Bench) for one second against a real node: it runs, counts every delivery and
/// reports sane fields, with either receiver. Figures are not checked here; they belong to the benchmark.
/// </summary>
public sealed class BenchSmokeTests
{
    public static TheoryData<string> Receivers => EpollReceiver.IsSupported ? new() { "epoll", "async" } : new() { "async" };

    [Theory]
    [MemberData(nameof(Receivers))]
    public async Task OneSecondOfLoad_DeliversEveryAcceptedMessageToEverySubscriber_InOrder(string receiver)
    {
        await using var server = await ReplServer.StartAsync();
        var options = BenchOptions.Parse(["--url", server.BaseAddress.ToString(), "--subscribers", "20", "--publishers", "2", "--rate", "200",
            "--duration", "1", "--topic", "smoke", "--receiver", receiver, "--drain", "10"]);

        var result = await new LoadRun(options).RunAsync();

        Assert.Equal(receiver, options.Receiver);
        Assert.Equal(0, result.ConnectFailures);
        Assert.InRange(result.Accepted, 20, 400);
        Assert.Equal(0, result.Rejected + result.PublishErrors);
        Assert.Equal(result.Accepted * 20, result.Delivered);
        Assert.Equal((0L, 0L, 0L, 0), (result.Lost, result.Duplicates, result.OutOfOrder, result.Disconnected));
        Assert.Equal(result.Delivered, result.Latency.Count);
        Assert.Contains($"\"receiver\":\"{receiver}\"", result.ToJson());
    }
}
