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
/// <para>The request is built once; per message only the 19-digit send timestamp at the start of the value is
/// rewritten in place. The value is that timestamp, a dash and padding up to <c>--value-bytes</c>.</para>
/// <para>With a key prefix (<c>--retry</c>) it publishes as a careful client does: each message carries its own
/// <c>Idempotency-Key</c> (the prefix and the message's timestamp, also rewritten in place) and is sent again, the
/// same bytes, after a 503, a broken connection or no answer, until it is 201; the id each 201 names is kept
/// (<see cref="Acks"/>). Without one the loop is the plain one: one attempt per message.</para>
/// </remarks>
internal sealed class Publisher
{
    /// <summary>A keyed message's last attempt waits this long for its answer before the connection is dropped and the message sent again.</summary>
    private static readonly TimeSpan NoAnswerAfter = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(100);
    /// <summary>How long past the end of the window a keyed message is retried before it is given up (<see cref="Abandoned"/>).</summary>
    private static readonly long GiveUpTicks = 30 * Stopwatch.Frequency;

    private readonly EndPoint _endpoint;
    private readonly byte[] _request;
    private readonly int _timestampAt;
    private readonly int _keyTimestampAt = -1;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _filled;
    private Socket? _socket;
    private long _ackedId;

    /// <param name="keyPrefix">Publish with idempotency keys and retry until acknowledged (see remarks); null: one attempt per message.</param>
    public Publisher(EndPoint endpoint, string host, string topic, int valueBytes, string? keyPrefix = null)
    {
        _endpoint = endpoint;
        string value = new string('0', 19) + "-" + new string('x', valueBytes - 20);
        string body = $"{{\"value\":\"{value}\",\"headers\":{{}}}}";
        string head = $"POST /topics/{Uri.EscapeDataString(topic)} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n";
        if (keyPrefix is not null)
        {
            string keyLine = $"Idempotency-Key: {keyPrefix}-";
            _keyTimestampAt = Encoding.UTF8.GetByteCount(head + keyLine);
            head += keyLine + new string('0', 19) + "\r\n";
            Acks = [];
        }
        head += "\r\n";
        _request = Encoding.UTF8.GetBytes(head + body);
        _timestampAt = Encoding.UTF8.GetByteCount(head) + "{\"value\":\"".Length;
    }

    /// <summary>Messages answered 201 (with <c>--retry</c>: messages, not attempts).</summary>
    public long Accepted { get; private set; }
    /// <summary>Answers other than 201 (with <c>--retry</c>, the 503s were retried).</summary>
    public long Rejected { get; private set; }
    public long Errors { get; private set; }
    /// <summary>Keyed messages given up: answered neither 201 nor 503, or still unacknowledged 30 s after the window.</summary>
    public long Abandoned { get; private set; }
    public string? LastError { get; private set; }
    public LatencyHistogram AckLatency { get; init; } = new();

    /// <summary>When set (<c>--timeline</c>), each acknowledgement is also counted in its 100 ms slot.</summary>
    public Timeline? Timeline { get; init; }

    /// <summary>With a key prefix: each acknowledged message's id (from the 201) and when the 201 came (Stopwatch ticks).</summary>
    public List<Ack>? Acks { get; }

    /// <summary>One acknowledgement: the log position the 201 named, and when it arrived.</summary>
    public readonly record struct Ack(long Id, long At);

    /// <summary>Publishes until <paramref name="stopAt"/> (Stopwatch ticks); <paramref name="interval"/> ticks apart, or back to back when 0.</summary>
    public async Task RunAsync(long startAt, long stopAt, double interval)
    {
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
                if (Acks is null) await PublishOnceAsync().ConfigureAwait(false);
                else await PublishUntilAckedAsync(stopAt + GiveUpTicks).ConfigureAwait(false);
            }
        }
        finally
        {
            _socket?.Dispose();
        }
    }

    private async Task PublishOnceAsync()
    {
        try
        {
            await ConnectAsync().ConfigureAwait(false);
            long at = Stamp();
            int status = await ExchangeAsync(CancellationToken.None).ConfigureAwait(false);
            long now = Stopwatch.GetTimestamp();
            AckLatency.Record((now - at) * 1_000_000 / Stopwatch.Frequency);
            Timeline?.Acked(now, (now - at) * 1_000_000 / Stopwatch.Frequency);
            if (status == 201) Accepted++;
            else
            {
                Rejected++;
                LastError = $"HTTP {status}";
            }
        }
        catch (Exception error) when (error is SocketException or IOException or InvalidDataException)
        {
            await FailedAsync(error.Message).ConfigureAwait(false);
        }
    }

    /// <summary>One message, sent until it is 201 with the same bytes (timestamp and key); its ack latency runs from the first attempt.</summary>
    private async Task PublishUntilAckedAsync(long giveUpAt)
    {
        long at = Stamp();
        while (true)
        {
            try
            {
                await ConnectAsync().ConfigureAwait(false);
                using var noAnswer = new CancellationTokenSource(NoAnswerAfter);
                int status = await ExchangeAsync(noAnswer.Token).ConfigureAwait(false);
                if (status == 201)
                {
                    long now = Stopwatch.GetTimestamp();
                    AckLatency.Record((now - at) * 1_000_000 / Stopwatch.Frequency);
                    Timeline?.Acked(now, (now - at) * 1_000_000 / Stopwatch.Frequency);
                    Accepted++;
                    Acks!.Add(new Ack(_ackedId, now));
                    return;
                }
                Rejected++;
                LastError = $"HTTP {status}";
                if (status != 503)
                {
                    Abandoned++;
                    return;
                }
            }
            catch (Exception error) when (error is SocketException or IOException or InvalidDataException or OperationCanceledException)
            {
                await FailedAsync(error is OperationCanceledException ? $"no answer within {NoAnswerAfter.TotalSeconds:0} s" : error.Message).ConfigureAwait(false);
            }
            if (Stopwatch.GetTimestamp() >= giveUpAt)
            {
                Abandoned++;
                LastError = "given up: no 201 within 30 s after the window";
                return;
            }
            await Task.Delay(RetryDelay).ConfigureAwait(false);
        }
    }

    private async ValueTask ConnectAsync()
    {
        if (_socket is not null) return;
        var socket = new Socket(_endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_endpoint).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        _socket = socket;
        _filled = 0;
    }

    /// <summary>Writes the send timestamp into the value (and the key, when keyed); returns it.</summary>
    private long Stamp()
    {
        long at = Stopwatch.GetTimestamp();
        var format = new StandardFormat('D', 19);
        Utf8Formatter.TryFormat(at, _request.AsSpan(_timestampAt, 19), out _, format);
        if (_keyTimestampAt >= 0) Utf8Formatter.TryFormat(at, _request.AsSpan(_keyTimestampAt, 19), out _, format);
        return at;
    }

    private async ValueTask<int> ExchangeAsync(CancellationToken cancellationToken)
    {
        await _socket!.SendAsync(_request, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        return await ReadResponseAsync(_socket, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The connection is dropped (a new one for the next attempt) and the error counted.</summary>
    private async Task FailedAsync(string message)
    {
        Errors++;
        LastError = message;
        _socket?.Dispose();
        _socket = null;
        await Task.Delay(50).ConfigureAwait(false);
    }

    /// <summary>Reads one response (Content-Length or chunked body) and returns its status.</summary>
    /// <remarks>With idempotency keys a 201's id is kept in <see cref="_ackedId"/>.</remarks>
    private async ValueTask<int> ReadResponseAsync(Socket socket, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryParse(_buffer.AsSpan(0, _filled), out int status, out int bodyStart, out int length))
            {
                if (Acks is not null && status == 201) _ackedId = ReadId(_buffer.AsSpan(bodyStart, length - bodyStart));
                _buffer.AsSpan(length, _filled - length).CopyTo(_buffer);
                _filled -= length;
                return status;
            }
            if (_filled == _buffer.Length) throw new InvalidDataException("publish response larger than the buffer");
            int read = await socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0) throw new IOException("server closed the publish connection");
            _filled += read;
        }
    }

    /// <summary>The message's id in a publish's 201 body: <c>{"message":...,"data":{"id":"42",...}}</c>.</summary>
    private static long ReadId(ReadOnlySpan<byte> body)
    {
        int at = body.IndexOf("\"id\":\""u8);
        if (at < 0 || !Utf8Parser.TryParse(body[(at + 6)..], out long id, out _)) throw new InvalidDataException("a 201 without the message's id");
        return id;
    }

    private static bool TryParse(ReadOnlySpan<byte> data, out int status, out int bodyStart, out int length)
    {
        status = 0;
        bodyStart = 0;
        length = 0;
        int headEnd = data.IndexOf("\r\n\r\n"u8);
        if (headEnd < 0) return false;
        var head = data[..headEnd];
        if (head.Length < 12 || !Utf8Parser.TryParse(head.Slice(9, 3), out status, out _)) throw new InvalidDataException("bad status line");
        bodyStart = headEnd + 4;
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
