using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Repl.Host.Tests.Node;

/// <summary>How a real node process ends: a clear line and a code when it cannot start, a clean drain on SIGTERM.</summary>
public sealed class NodeExitTests
{
    [Fact]
    public async Task ANodeWhosePortIsTaken_ExitsWithCode4_AndOneLineSayingSo()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;

        await using var node = await ReplNodeProcess.LaunchAsync("taken", port);
        Assert.True(await node.ExitsWithinAsync(TimeSpan.FromSeconds(90)), node.OutputTail);
        // Before, an unhandled IOException: .NET's abort, SIGABRT (134), and a stack trace on stderr.
        Assert.True(node.ExitCode == 4, $"exit code {node.ExitCode}:\n{node.OutputTail}");
        Assert.Equal([$"repl: cannot start: Failed to bind to address http://127.0.0.1:{port}: address already in use."], node.ErrorLines);
    }

    [Fact]
    public async Task ANodeWithAFeedWindowOfNoEntries_ExitsWithCode2_AndOneLineNamingTheSetting()
    {
        using var free = new TcpListener(IPAddress.Loopback, 0);
        free.Start();
        int port = ((IPEndPoint)free.LocalEndpoint).Port;
        free.Stop();

        // Cluster mode, but nothing is reached: the settings are checked before the node starts.
        await using var node = await ReplNodeProcess.LaunchAsync("feed-window", port, "--Cluster:Etcd", "http://127.0.0.1:1",
            "--CLUSTER_SEEDS", "akka.tcp://repl@127.0.0.1:1", "--Cluster:FeedWindow", "0");
        Assert.True(await node.ExitsWithinAsync(TimeSpan.FromSeconds(90)), node.OutputTail);
        // Before, an ArgumentOutOfRangeException from the feed's constructor, with its trace, and exit code 1.
        Assert.True(node.ExitCode == 2, $"exit code {node.ExitCode}:\n{node.OutputTail}");
        var line = Assert.Single(node.ErrorLines);
        Assert.StartsWith("repl: cannot start: Cluster:FeedWindow is 0: it must be at least 1", line);
    }

    [Fact]
    public async Task SigtermUnderLoad_ExitsWith0_EndsStreamsWithUnavailable_AndKeepsEveryAcknowledgedPublish()
    {
        await using var node = await ReplNodeProcess.StartAsync("drain", etcd: null);
        await node.Client.CreateTopicAsync("load");
        var streams = new List<SseStream>();
        for (int i = 0; i < 4; i++) streams.Add(await SseStream.OpenAsync(node.BaseAddress, "/topics/load/sse"));

        // Eight closed-loop publishers, each on connections of its own, until the node no longer answers.
        var acked = new ConcurrentDictionary<string, long>();
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var publishers = Enumerable.Range(0, 8).Select(p => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = node.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            for (int n = 0; ; n++)
            {
                string value = $"p{p}-{n}";
                var (status, id, _) = await client.TryPublishAsync("load", value);
                if (status == HttpStatusCode.Created)
                {
                    acked[value] = id;
                    if (acked.Count >= 400) enough.TrySetResult();
                }
                else if (status == 0 && !node.IsRunning)
                {
                    return;
                }
            }
        })).ToList();
        await enough.Task.WaitAsync(TimeSpan.FromSeconds(60));

        node.Terminate();
        Assert.True(await node.ExitsWithinAsync(TimeSpan.FromSeconds(60)), node.OutputTail);
        await Task.WhenAll(publishers).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(node.ExitCode == 0, $"exit code {node.ExitCode}:\n{node.OutputTail}");
        foreach (var stream in streams)
        {
            Assert.Equal("unavailable", await LastEventAsync(stream));
            await stream.DisposeAsync();
        }

        await node.RestartAsync();
        var journal = new Dictionary<long, string>();
        for (long after = 0; ;)
        {
            var page = JsonDocument.Parse(await node.Client.GetStringAsync($"/topics/load/messages?after={after}&limit=1000")).RootElement.GetProperty("messages");
            foreach (var message in page.EnumerateArray())
            {
                after = long.Parse(message.GetProperty("id").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                journal[after] = message.GetProperty("value").GetString()!;
            }
            if (page.GetArrayLength() < 1000) break;
        }
        var lost = acked.Where(ack => !journal.TryGetValue(ack.Value, out var value) || value != ack.Key).Select(ack => $"{ack.Key}@{ack.Value}").ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acked.Count} acknowledged publishes are not in the journal: {string.Join(", ", lost.Take(10))}");
    }

    /// <summary>The type of the last event (pings aside) before the server ended the stream.</summary>
    private static async Task<string?> LastEventAsync(SseStream stream)
    {
        string? last = null;
        while (true)
        {
            Repl.Sse.SseEvent item;
            try
            {
                item = await stream.NextAsync(TimeSpan.FromSeconds(30));
            }
            catch (Exception error) when (error is System.Threading.Channels.ChannelClosedException or HttpRequestException or IOException)
            {
                return last;
            }
            if (item.Type != "ping") last = item.Type;
        }
    }
}
