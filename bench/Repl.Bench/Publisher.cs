using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Repl.Bench;

/// <summary>
/// One publisher: an HTTP/1.1 keep-alive connection on a raw socket that sends <c>POST /topics/{topic}</c> and
/// waits for each answer before the next (closed loop), optionally paced to a fixed rate.
/// </summary>
/// <remarks>
/// The request is built once; per message only the 19-digit send timestamp at the start of the value is
/// rewritten in place. The value is that timestamp, a dash and padding up to <c>--value-bytes</c>.
/// </remarks>
internal sealed class Publisher
{
    private readonly EndPoint _endpoint;
    private readonly byte[] _request;
    private readonly int _timestampAt;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _filled;

    public Publisher(EndPoint endpoint, string host, string topic, int valueBytes)
    {
        _endpoint = endpoint;
        string value = new string('0', 19) + "-" + new string('x', valueBytes - 20);
        string body = $"{{\"value\":\"{value}\",\"headers\":{{}}}}";
        string head = $"POST /topics/{Uri.EscapeDataString(topic)} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n";
        _request = Encoding.UTF8.GetBytes(head + body);
        _timestampAt = Encoding.UTF8.GetByteCount(head) + "{\"value\":\"".Length;
    }

    public long Accepted { get; private set; }
    public long Rejected { get; private set; }
    public long Errors { get; private set; }
    public string? LastError { get; private set; }
    public LatencyHistogram AckLatency { get; init; } = new();

    /// <summary>Publishes until <paramref name="stopAt"/> (Stopwatch ticks); <paramref name="interval"/> ticks apart, or back to back when 0.</summary>
    public async Task RunAsync(long startAt, long stopAt, double interval)
    {
        Socket? socket = null;
        long sent = 0;
        try
        {
            while (true)
            {
                long now = Stopwatch.GetTimestamp();
                if (now >= stopAt) break;
                if (interval > 0)
                {
                    long due = startAt + (long)(sent * interval);
                    if (due >= stopAt) break;
                    if (due > now)
                    {
                        var wait = TimeSpan.FromSeconds((double)(due - now) / Stopwatch.Frequency);
                        if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait).ConfigureAwait(false);
                    }
                }
                sent++;
                try
                {
                    if (socket is null)
                    {
                        socket = new Socket(_endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                        await socket.ConnectAsync(_endpoint).ConfigureAwait(false);
                        _filled = 0;
                    }
                    long at = Stopwatch.GetTimestamp();
                    Utf8Formatter.TryFormat(at, _request.AsSpan(_timestampAt, 19), out _, new StandardFormat('D', 19));
                    await socket.SendAsync(_request, SocketFlags.None).ConfigureAwait(false);
                    int status = await ReadResponseAsync(socket).ConfigureAwait(false);
                    AckLatency.Record((Stopwatch.GetTimestamp() - at) * 1_000_000 / Stopwatch.Frequency);
                    if (status == 201) Accepted++;
                    else
                    {
                        Rejected++;
                        LastError = $"HTTP {status}";
                    }
                }
                catch (Exception error) when (error is SocketException or IOException or InvalidDataException)
                {
                    Errors++;
                    LastError = error.Message;
                    socket?.Dispose();
                    socket = null;
                    await Task.Delay(50).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            socket?.Dispose();
        }
    }

    /// <summary>Reads one response (Content-Length or chunked body) and returns its status.</summary>
    private async ValueTask<int> ReadResponseAsync(Socket socket)
    {
        while (true)
        {
            if (TryParse(_buffer.AsSpan(0, _filled), out int status, out int length))
            {
                _buffer.AsSpan(length, _filled - length).CopyTo(_buffer);
                _filled -= length;
                return status;
            }
            if (_filled == _buffer.Length) throw new InvalidDataException("publish response larger than the buffer");
            int read = await socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None).ConfigureAwait(false);
            if (read == 0) throw new IOException("server closed the publish connection");
            _filled += read;
        }
    }

    private static bool TryParse(ReadOnlySpan<byte> data, out int status, out int length)
    {
        status = 0;
        length = 0;
        int headEnd = data.IndexOf("\r\n\r\n"u8);
        if (headEnd < 0) return false;
        var head = data[..headEnd];
        if (head.Length < 12 || !Utf8Parser.TryParse(head.Slice(9, 3), out status, out _)) throw new InvalidDataException("bad status line");
        int bodyStart = headEnd + 4;
        if (FindHeader(head, "content-length:"u8) is { } lengthValue)
        {
            if (!Utf8Parser.TryParse(lengthValue, out int contentLength, out _)) throw new InvalidDataException("bad Content-Length");
            if (data.Length < bodyStart + contentLength) return false;
            length = bodyStart + contentLength;
            return true;
        }
        if (FindHeader(head, "transfer-encoding:"u8) is null)
        {
            length = bodyStart; // no body (e.g. 204)
            return true;
        }
        // Chunked: size line, data, CRLF ... until the zero-size chunk and its final CRLF (no trailers).
        int at = bodyStart;
        while (true)
        {
            int lineEnd = data[at..].IndexOf("\r\n"u8);
            if (lineEnd < 0) return false;
            var sizeText = data.Slice(at, lineEnd);
            int semicolon = sizeText.IndexOf((byte)';');
            if (semicolon >= 0) sizeText = sizeText[..semicolon];
            if (!Utf8Parser.TryParse(sizeText, out int size, out _, 'x')) throw new InvalidDataException("bad chunk size");
            at += lineEnd + 2;
            if (data.Length < at + size + 2) return false;
            at += size + 2;
            if (size == 0)
            {
                length = at;
                return true;
            }
        }
    }

    private static ReadOnlySpan<byte> FindHeaderSpan(ReadOnlySpan<byte> head, ReadOnlySpan<byte> name, out bool found)
    {
        found = false;
        while (!head.IsEmpty)
        {
            int lineEnd = head.IndexOf("\r\n"u8);
            var line = lineEnd < 0 ? head : head[..lineEnd];
            if (line.Length > name.Length && Ascii.EqualsIgnoreCase(line[..name.Length], name))
            {
                found = true;
                return line[name.Length..].Trim((byte)' ');
            }
            head = lineEnd < 0 ? default : head[(lineEnd + 2)..];
        }
        return default;
    }

    private static byte[]? FindHeader(ReadOnlySpan<byte> head, ReadOnlySpan<byte> name)
    {
        var value = FindHeaderSpan(head, name, out bool found);
        return found ? value.ToArray() : null;
    }
}
