using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Streams;

/// <summary>SSE behaviour, checked on what the server actually sent.</summary>
public sealed class StreamTests
{
    [Fact]
    public async Task Stream_StartsConnected_ThenSendsEachMessageWithItsPositionAsId()
    {
        await using var server = await ReplServer.StartAsync();
        await server.Client.CreateTopicAsync("comments:1");
        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/comments:1/sse");
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
        long id = await server.Client.PublishAsync("comments:1", "first comment", new { user = "ana" });
        var (receivedId, message) = (await stream.MessagesAsync(1))[0];
        Assert.Equal(id, receivedId);
        Assert.Equal("first comment", message.GetProperty("value").GetString());
        Assert.Equal("ana", message.GetProperty("headers").GetProperty("user").GetString());
        Assert.Equal("comments:1", message.GetProperty("topic").GetString());
    }

    [Fact]
    public async Task Stream_SendsRetryHint_AndPingsWhenIdle()
    {
        await using var server = await ReplServer.StartAsync(null, "--Sse:PingInterval", "00:00:00.200", "--Sse:Retry", "00:00:01.500");
        var client = new HttpClient { BaseAddress = server.BaseAddress };
        using var response = await client.GetAsync("/topics/demo/sse", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var events = SseStream.ReadAsync(body).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync());
        Assert.Equal(("connected", 1500), (events.Current.Type, events.Current.Retry));
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal("ping", events.Current.Type);
        Assert.Null(events.Current.Id);
    }

    [Fact]
    public async Task LastEventId_ReplaysExactlyWhatWasMissed_ThenGoesLive_WithoutHoleOrDuplicate()
    {
        await using var server = await ReplServer.StartAsync(null, "--Topics:MemoryWindow", "4");
        var ids = new List<long>();
        for (int i = 0; i < 20; i++) ids.Add(await server.Client.PublishAsync("demo", $"m{i}"));

        // Publish while the stream connects, to cross the seam between replay and live.
        using var publishing = new CancellationTokenSource();
        var live = Task.Run(async () =>
        {
            var more = new List<long>();
            for (int i = 20; i < 60; i++) more.Add(await server.Client.PublishAsync("demo", $"m{i}"));
            return more;
        });
        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse", lastEventId: ids[4].ToString());
        ids.AddRange(await live);

        var received = await stream.MessagesAsync(55);
        Assert.Equal(ids.Skip(5), received.Select(m => m.Id));
        Assert.Equal(Enumerable.Range(5, 55).Select(i => $"m{i}"), received.Select(m => m.Message.GetProperty("value").GetString()));
    }

    [Fact]
    public async Task LastEventIdQuery_WorksForClientsThatCannotSetHeaders()
    {
        await using var server = await ReplServer.StartAsync();
        long first = await server.Client.PublishAsync("demo", "a");
        long second = await server.Client.PublishAsync("demo", "b");
        await using var stream = await SseStream.OpenAsync(server.BaseAddress, $"/topics/demo/sse?lastEventId={first}");
        Assert.Equal([second], (await stream.MessagesAsync(1)).Select(m => m.Id));
    }

    [Fact]
    public async Task OneStream_SeveralTopics_InLogOrder_WithOneResumeCursor()
    {
        await using var server = await ReplServer.StartAsync(null, "--Topics:MemoryWindow", "2");
        await server.Client.CreateTopicAsync("x");
        await server.Client.CreateTopicAsync("y");
        var ids = new List<long>();
        for (int i = 0; i < 30; i++) ids.Add(await server.Client.PublishAsync(i % 3 == 0 ? "x" : "y", $"{i}"));
        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/sse?topic=x&topic=y", lastEventId: ids[9].ToString());
        var received = await stream.MessagesAsync(20);
        Assert.Equal(ids.Skip(10), received.Select(m => m.Id));
    }

    [Fact]
    public async Task ResumePointOlderThanRetention_GetsAGapEvent_ThenTheRest()
    {
        await using var server = await ReplServer.StartAsync(null, "--Journal:MaxMessagesPerTopic", "5", "--Topics:MemoryWindow", "2");
        var ids = new List<long>();
        for (int i = 0; i < 12; i++) ids.Add(await server.Client.PublishAsync("demo", $"m{i}"));
        await server.Node.ApplyRetentionAsync();

        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse", lastEventId: ids[0].ToString());
        var gap = await stream.NextNonPingAsync();
        Assert.Equal("gap", gap.Type);
        Assert.Null(gap.Id);
        var data = JsonDocument.Parse(gap.Data).RootElement;
        Assert.Equal("demo", data.GetProperty("topic").GetString());
        Assert.Equal(ids[0], data.GetProperty("requested").GetInt64());
        Assert.Equal(ids[7], data.GetProperty("oldest").GetInt64());
        Assert.Equal(ids.Skip(7), (await stream.MessagesAsync(5)).Select(m => m.Id));
    }

    [Fact]
    public async Task Replay_WorksAcrossAServerRestart_OnTheSameDataDir()
    {
        var dataDir = TempDir.Create();
        var ids = new List<long>();
        await using (var first = await ReplServer.StartAsync(dataDir))
        {
            await first.Client.CreateTopicAsync("kept");
            for (int i = 0; i < 10; i++) ids.Add(await first.Client.PublishAsync("kept", $"m{i}"));
        }
        await using var second = await ReplServer.StartAsync(dataDir);
        var (_, topics) = await second.Client.SendAsync(HttpMethod.Get, "/topics");
        Assert.Contains("kept", topics.EnumerateArray().Select(name => name.GetString()));
        long next = await second.Client.PublishAsync("kept", "after restart");
        Assert.True(next > ids[^1]);
        await using var stream = await SseStream.OpenAsync(second.BaseAddress, "/topics/kept/sse", lastEventId: ids[2].ToString());
        Assert.Equal([.. ids.Skip(3), next], (await stream.MessagesAsync(8)).Select(m => m.Id));
        TempDir.Delete(dataDir);
    }

    [Fact]
    public async Task KillNine_ThenRestart_EveryAcknowledgedMessageArrivesExactlyOnce()
    {
        await using var node = await ReplNodeProcess.StartAsync("crash-test", etcd: null);
        await node.Client.CreateTopicAsync("comments:1");
        await using var before = await SseStream.OpenAsync(node.BaseAddress, "/topics/comments:1/sse");
        var acked = new List<long>();
        for (int i = 0; i < 30; i++) acked.Add(await node.Client.PublishAsync("comments:1", $"m{i}"));
        var seen = (await before.MessagesAsync(10)).Select(m => m.Id).ToList();

        node.Kill();
        await node.RestartAsync();
        for (int i = 30; i < 40; i++) acked.Add(await node.Client.PublishAsync("comments:1", $"m{i}"));

        await using var after = await SseStream.OpenAsync(node.BaseAddress, "/topics/comments:1/sse", lastEventId: seen[^1].ToString());
        seen.AddRange((await after.MessagesAsync(30)).Select(m => m.Id));
        Assert.Equal(acked, seen);
    }

    [Fact]
    public async Task ALiveStreamLeftBehindByItsRing_CatchesUpFromTheJournal_InOrder()
    {
        // A ring of 4 and batches of 100: every round of the live stream starts behind its ring, so the fan-out
        // thread hands each one to the pool for a journal read.
        await using var server = await ReplServer.StartAsync(null, "--Topics:MemoryWindow", "4");
        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse");
        var batch = JsonSerializer.Serialize(Enumerable.Range(0, 100).Select(i => new { value = $"m{i}" }));
        for (int i = 0; i < 3; i++)
        {
            using var content = new StringContent(batch, Encoding.UTF8, "application/json");
            using var response = await server.Client.PostAsync("/topics/demo/batch", content);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
        var received = await stream.MessagesAsync(300);
        Assert.Equal(received.Select(m => m.Id).Order(), received.Select(m => m.Id));
        Assert.Equal(300, received.Select(m => m.Id).Distinct().Count());
        Assert.Equal("m99", received[^1].Message.GetProperty("value").GetString());
    }

    [Fact]
    public async Task ASubscriberThatNeverReads_DoesNotStallOthers_AndIsCutOff()
    {
        await using var server = await ReplServer.StartAsync(null, "--Sse:StallTimeout", "00:00:01", "--Topics:MemoryWindow", "64");
        // A raw client that asks for the stream and then never reads a byte.
        using var stalled = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(new IPEndPoint(IPAddress.Loopback, server.BaseAddress.Port));
        await stalled.SendAsync(Encoding.ASCII.GetBytes($"GET /topics/demo/sse HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\n\r\n"));
        await using var reader = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse");
        // Nothing tells the test when the raw request has been handled: wait until both streams are subscribed.
        Assert.True(server.Registry.TryGet("demo", out var demo));
        var subscribed = DateTime.UtcNow.AddSeconds(10);
        while (demo.SubscriberCount < 2 && DateTime.UtcNow < subscribed) await Task.Delay(10);
        Assert.Equal(2, demo.SubscriberCount);

        // ~8 MB: far more than the socket buffers, so the stalled stream's writes block.
        string value = new('x', 16 * 1024);
        var batch = JsonSerializer.Serialize(Enumerable.Range(0, 50).Select(_ => new { value }));
        const int batches = 10;
        for (int i = 0; i < batches; i++)
        {
            using var content = new StringContent(batch, Encoding.UTF8, "application/json");
            using var response = await server.Client.PostAsync("/topics/demo/batch", content);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
        var received = await reader.MessagesAsync(batches * 50, TimeSpan.FromSeconds(20));
        Assert.Equal(received.Select(m => m.Id).Order(), received.Select(m => m.Id));

        // The stalled one is cut off once its socket has taken nothing for the stall timeout. It is counted as cut off
        // just before its loop ends and unsubscribes, so wait for both.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while ((server.Streams.CutOff == 0 || demo.SubscriberCount > 1) && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(1, server.Streams.CutOff);
        Assert.Equal(1, demo.SubscriberCount);
    }
}
