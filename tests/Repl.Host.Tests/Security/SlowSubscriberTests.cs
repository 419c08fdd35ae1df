using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Security;

/// <summary>Clients that open streams and never read cannot make the node hold what it sends them.</summary>
public sealed class SlowSubscriberTests
{
    private const int Sockets = 20;
    private const int Messages = 2560;
    private const int ValueBytes = 8 * 1024; // 2560 × 8 KiB = 20 MiB published
    private const int BatchSize = 64;

    [Fact]
    public async Task StalledStreams_DoNotGrowMemory_AreCutOff_AndReaderGetsEverything()
    {
        await using var server = await ReplServer.StartAsync(null,
            "--Sse:StallTimeout", "00:00:06", "--Topics:MemoryWindow", "64", "--Sse:JournalPageSize", "64");
        await server.Client.CreateTopicAsync("flood");
        await using var reader = await SseStream.OpenAsync(server.BaseAddress, "/topics/flood/sse");

        var stalled = new List<Socket>();
        try
        {
            for (int i = 0; i < Sockets; i++)
            {
                // A small receive window: the server's sends back up quickly, as with a client that stopped reading.
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                await socket.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port);
                await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /topics/flood/sse HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nAccept: text/event-stream\r\n\r\n"));
                stalled.Add(socket);
            }
            await WaitForAsync(() => server.Streams.Open >= Sockets + 1, "the stalled streams to open");
            long before = GC.GetTotalMemory(forceFullCollection: true);

            var reading = Task.Run(() => CountAsync(reader));
            string value = new('v', ValueBytes);
            var batch = "[" + string.Join(",", Enumerable.Repeat(JsonSerializer.Serialize(new { value }), BatchSize)) + "]";
            for (int sent = 0; sent < Messages; sent += BatchSize)
            {
                var (status, body) = await server.Client.SendAsync(HttpMethod.Post, "/topics/flood/batch", batch);
                Assert.True((int)status == 201, body.ToString());
            }
            Assert.Equal(Messages, await reading);

            long after = GC.GetTotalMemory(forceFullCollection: true);
            long stillOpen = server.Streams.Open;
            // Had the node buffered for each stalled stream: 20 MiB each, 400 MiB in all. Measured: ~23 MiB (pools and caches warming up).
            Assert.True(after - before < 64L * 1024 * 1024, $"managed memory grew by {(after - before) / 1024 / 1024} MiB with {stillOpen} streams open");

            await WaitForAsync(() => server.Streams.CutOff >= Sockets, "the stalled streams to be cut off", TimeSpan.FromSeconds(20));
            await WaitForAsync(() => server.Streams.Open == 1, "only the reader to stay open");
        }
        finally
        {
            foreach (var socket in stalled) socket.Dispose();
        }
    }

    /// <summary>Reads every message, checking order and size, keeping none (so the test itself holds no backlog).</summary>
    private static async Task<int> CountAsync(SseStream reader)
    {
        long last = 0;
        for (int count = 0; count < Messages; count++)
        {
            var item = await reader.NextNonPingAsync(TimeSpan.FromSeconds(20));
            Assert.Equal("message", item.Type);
            long id = SseStream.Position(item.Id!);
            Assert.True(id > last, "messages out of order");
            last = id;
            using var json = JsonDocument.Parse(item.Data);
            Assert.Equal(ValueBytes, json.RootElement.GetProperty("value").GetString()!.Length);
        }
        return Messages;
    }

    private static async Task WaitForAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("timed out waiting for " + what);
            await Task.Delay(50);
        }
    }
}
