using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Options;
using Repl.Sse;

namespace Repl.Actors.Tests.Sse;

/// <summary>A connection's stage writing to a real loopback socket (<see cref="ChunkedSocketWriter"/>), run by the node's <see cref="SseStreams"/>.</summary>
public sealed class ConnectionStageSocketSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public ConnectionStageSocketSpecs() : base(SseGraphFixture.Config)
    {
    }

    [Fact]
    public async Task ARound_IsWrittenAsOneChunk_AndCountedAsDelivered()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var (server, client) = await SseGraphFixture.ConnectedPairAsync();
        using var _ = server;
        using var __ = client;
        var counters = new SseCounters();
        using var streams = new SseStreams(Sys, Options.Create(new SseOptions { CoalesceWindow = TimeSpan.Zero }), counters);
        using var stop = new CancellationTokenSource();
        var ended = streams.RunAsync(fixture.Connection(null, "a"), ChunkedSocketWriter.Over(server), () => { }, stop.Token);
        Assert.Contains("event: connected", await ReceiveChunkAsync(client));

        long last = fixture.Publish(3, "a");
        string payload = await ReceiveChunkAsync(client);
        Assert.Equal([last - 2, last - 1, last], payload.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => long.Parse(e.Split('\n').Single(line => line.StartsWith("id: ", StringComparison.Ordinal))[4..].Split('@')[0], CultureInfo.InvariantCulture)));
        // Counted once the send returned, which the client may see first.
        await AwaitAssertAsync(() => Assert.Equal(3, counters.Delivered), Wait);
        Assert.Equal(1, counters.Writes);

        stop.Cancel();
        await ended.WaitAsync(Wait);
    }

    [Fact]
    public async Task AClientThatStopsReading_IsCutOffAfterTheStallTimeout()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var (server, client) = await SseGraphFixture.ConnectedPairAsync(receiveBuffer: 4096, sendBuffer: 8192);
        using var _ = server;
        using var __ = client;
        var counters = new SseCounters();
        using var streams = new SseStreams(Sys, Options.Create(new SseOptions { StallTimeout = TimeSpan.FromSeconds(1) }), counters);
        int aborted = 0;
        string? thread = null;
        var ended = streams.RunAsync(fixture.Connection(null, "a"), ChunkedSocketWriter.Over(server), () =>
        {
            Interlocked.Increment(ref aborted);
            thread = Thread.CurrentThread.Name;
            server.Dispose();
        }, default);

        // 600 KB the client never reads: the socket's buffers fill and a flush stays pending.
        for (int i = 0; i < 10; i++) fixture.PublishValues(30, 2000, "a");
        await ended.WaitAsync(Wait);

        Assert.Equal(1, counters.CutOff);
        Assert.Equal(1, Volatile.Read(ref aborted));
        // The stage ran on the streams' own thread, not the default dispatcher's.
        Assert.StartsWith(SseStreams.DispatcherId, thread);
    }

    [Fact]
    public async Task TheGraph_StreamsToTheSocket_AndEndsWhenTheRequestIsAborted()
    {
        await using var fixture = new SseGraphFixture(1024, "a");
        var (server, client) = await SseGraphFixture.ConnectedPairAsync();
        using var _ = server;
        using var __ = client;
        var counters = new SseCounters();
        using var streams = new SseStreams(Sys, Options.Create(new SseOptions()), counters);
        using var stop = new CancellationTokenSource();

        var ended = streams.RunAsync(fixture.Connection(null, "a"), ChunkedSocketWriter.Over(server), () => { }, stop.Token);
        Assert.Contains("event: connected", await ReceiveUntilAsync(client, "event: connected"));
        fixture.Publish(5, "a");
        Assert.Contains($"id: {fixture.Position}@", await ReceiveUntilAsync(client, $"id: {fixture.Position}@"));

        stop.Cancel();
        await ended.WaitAsync(Wait);
        Assert.Equal(0, fixture.Topic("a").SubscriberCount);
        Assert.Equal(0, counters.Open);
        Assert.Equal(5, counters.Delivered);
    }

    /// <summary>Reads exactly one HTTP/1.1 chunk (<c>{hex}\r\n{payload}\r\n</c>) and returns its payload.</summary>
    private static async Task<string> ReceiveChunkAsync(Socket socket)
    {
        var head = new StringBuilder();
        while (!head.ToString().EndsWith("\r\n", StringComparison.Ordinal)) head.Append(await ReceiveAsync(socket, 1));
        int length = int.Parse(head.ToString().TrimEnd(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        string chunk = await ReceiveAsync(socket, length + 2);
        Assert.EndsWith("\r\n", chunk);
        return chunk[..length];
    }

    private static async Task<string> ReceiveAsync(Socket socket, int length)
    {
        var buffer = new byte[length];
        int received = 0;
        using var timeout = new CancellationTokenSource(Wait);
        while (received < length)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, timeout.Token);
            if (read == 0) break;
            received += read;
        }
        return Encoding.ASCII.GetString(buffer, 0, received);
    }

    private static async Task<string> ReceiveUntilAsync(Socket socket, string marker)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(Wait);
        while (!text.ToString().Contains(marker, StringComparison.Ordinal))
        {
            int read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (read == 0) break;
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
        return text.ToString();
    }
}
