using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Repl.Sse;

namespace Repl.Actors.Tests.Sse;

/// <summary>The direct stream writer over a real loopback connection: HTTP/1.1 chunk framing, full sockets, gone peers.</summary>
public sealed class ChunkedSocketWriterTests
{
    [Fact]
    public async Task EachFlush_IsOneChunk_AndAnEmptyFlushSendsNothing()
    {
        var (server, client) = await SseGraphFixture.ConnectedPairAsync();
        using var _ = server;
        using var __ = client;
        var writer = ChunkedSocketWriter.Over(server);

        Write(writer, "data: a\n\n");
        Assert.False((await writer.FlushAsync()).IsCompleted);
        Assert.False((await writer.FlushAsync()).IsCompleted);
        Write(writer, new string('b', 300));
        Write(writer, "!");
        await writer.FlushAsync();

        string expected = "9\r\ndata: a\n\n\r\n" + "12d\r\n" + new string('b', 300) + "!\r\n";
        Assert.Equal(expected, await ReceiveAsync(client, expected.Length));
    }

    [Fact]
    public async Task AChunkLargerThanTheSocketTakes_ArrivesWhole_OnceTheReaderDrains()
    {
        var (server, client) = await SseGraphFixture.ConnectedPairAsync(sendBuffer: 8 * 1024, receiveBuffer: 8 * 1024);
        using var _ = server;
        using var __ = client;
        var writer = ChunkedSocketWriter.Over(server);
        var payload = new string('x', 2 * 1024 * 1024);

        Write(writer, payload);
        var flush = writer.FlushAsync().AsTask();
        Assert.False(flush.IsCompleted); // the socket took part of it; the rest waits for the reader
        string received = await ReceiveAsync(client, payload.Length + "200000\r\n\r\n".Length);
        Assert.False((await flush).IsCompleted);
        Assert.Equal("200000\r\n" + payload + "\r\n", received);

        // The writer is usable again after the slow path.
        Write(writer, "z");
        await writer.FlushAsync();
        Assert.Equal("1\r\nz\r\n", await ReceiveAsync(client, 6));
    }

    [Fact]
    public async Task APeerThatHasGone_CompletesTheFlush_InsteadOfThrowing()
    {
        var (server, client) = await SseGraphFixture.ConnectedPairAsync();
        using var _ = server;
        client.LingerState = new LingerOption(true, 0); // close with a reset
        client.Dispose();
        var writer = ChunkedSocketWriter.Over(server);

        FlushResult result = default;
        for (int i = 0; i < 50 && !result.IsCompleted; i++)
        {
            Write(writer, "data: after close\n\n");
            result = await writer.FlushAsync();
            await Task.Delay(20);
        }
        Assert.True(result.IsCompleted);
    }

    private static void Write(PipeWriter writer, string text)
    {
        int written = Encoding.ASCII.GetBytes(text, writer.GetSpan(text.Length));
        writer.Advance(written);
    }

    private static async Task<string> ReceiveAsync(Socket socket, int length)
    {
        var buffer = new byte[length];
        int received = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (received < length)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, timeout.Token);
            if (read == 0) break;
            received += read;
        }
        return Encoding.ASCII.GetString(buffer, 0, received);
    }
}
