using System.Net.Sockets;
using System.Text;
using Akka.Streams;
using Akka.Streams.Dsl;
using Microsoft.Extensions.Options;
using Repl.Actors.Messages;
using Repl.Sse;

namespace Repl.Actors.Tests.Sse;

/// <summary>The socket sink of a connection's graph, and the whole graph, over real loopback sockets.</summary>
public sealed class SocketSinkSpecs : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public SocketSinkSpecs() : base(SseGraphFixture.Config) => Materializer = Sys.Materializer();

    private ActorMaterializer Materializer { get; }

    private static WriteRound Round(int frames, int bytesEach)
    {
        var round = new WriteRound();
        for (int i = 1; i <= frames; i++) round.Frames.Add(new Frame(i, "a", Encoding.ASCII.GetBytes($"id: {i}\ndata: {new string('x', bytesEach)}\n\n")));
        return round;
    }

    [Fact]
    public async Task ARound_IsWrittenAsOneChunk_AndCountedAsDelivered()
    {
        var (server, client) = await SseGraphFixture.ConnectedPairAsync();
        using var _ = server;
        using var __ = client;
        var counters = new SseCounters();
        var sink = new SocketSink(ChunkedSocketWriter.Over(server), () => { }, new SseOptions(), counters, default);

        var ended = Source.Single(Round(3, 1)).RunWith(Sink.FromGraph(sink), Materializer);
        await ended.WaitAsync(Wait);

        string payload = "id: 1\ndata: x\n\nid: 2\ndata: x\n\nid: 3\ndata: x\n\n";
        string expected = $"{payload.Length:x}\r\n{payload}\r\n";
        Assert.Equal(expected, await ReceiveAsync(client, expected.Length));
        Assert.Equal(3, counters.Delivered);
        Assert.Equal(1, counters.Writes);
    }

    [Fact]
    public async Task AClientThatStopsReading_IsCutOffAfterTheStallTimeout()
    {
        var (server, client) = await SseGraphFixture.ConnectedPairAsync(receiveBuffer: 4096, sendBuffer: 8192);
        using var _ = server;
        using var __ = client;
        var counters = new SseCounters();
        int aborted = 0;
        string? thread = null;
        var sink = new SocketSink(ChunkedSocketWriter.Over(server), () =>
        {
            Interlocked.Increment(ref aborted);
            thread = Thread.CurrentThread.Name;
            server.Dispose();
        }, new SseOptions { StallTimeout = TimeSpan.FromSeconds(1) }, counters, default);

        // Rounds of 64 KB for ever: the socket's buffers fill and the flush stays pending.
        var ended = Source.Repeat(Round(64, 1000)).ToMaterialized(Sink.FromGraph(sink), Keep.Right)
            .WithAttributes(ActorAttributes.CreateDispatcher(SseStreams.DispatcherId)).Run(Materializer);
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
