using System.Net.Sockets;
using System.Text;

namespace Repl.Host.Tests.Infrastructure;

/// <summary>
/// HTTP/1.1 over a bare socket, for what <see cref="HttpClient"/> will not do: send a whole body before reading,
/// send malformed requests, reuse one connection on purpose.
/// </summary>
public sealed class RawHttp : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RawHttp(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    /// <summary>An answer as read off the wire.</summary>
    public sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, string Body);

    public static async Task<RawHttp> ConnectAsync(Uri server)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(server.Host, server.Port);
        return new RawHttp(client);
    }

    /// <summary>Writes all of <paramref name="bytes"/> before anything is read.</summary>
    public async Task WriteAsync(byte[] bytes, CancellationToken cancellationToken = default) => await _stream.WriteAsync(bytes, cancellationToken);

    public Task WriteAsync(string text, CancellationToken cancellationToken = default) => WriteAsync(Encoding.ASCII.GetBytes(text), cancellationToken);

    /// <summary>Reads one response: status line, headers, then a body by Content-Length, chunks, or up to the close.</summary>
    public async Task<Response> ReadResponseAsync(CancellationToken cancellationToken = default)
    {
        string head = Encoding.ASCII.GetString(await ReadUntilAsync("\r\n\r\n"u8.ToArray(), cancellationToken));
        var lines = head.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        int status = int.Parse(lines[0].Split(' ')[1]);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        var body = new MemoryStream();
        if (headers.TryGetValue("Content-Length", out var length))
        {
            body.Write(await ReadExactlyAsync(int.Parse(length), cancellationToken));
        }
        else if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (true)
            {
                string size = Encoding.ASCII.GetString(await ReadUntilAsync("\r\n"u8.ToArray(), cancellationToken)).Trim();
                int chunk = Convert.ToInt32(size.Split(';')[0], 16);
                if (chunk == 0)
                {
                    await ReadUntilAsync("\r\n"u8.ToArray(), cancellationToken);
                    break;
                }
                body.Write(await ReadExactlyAsync(chunk, cancellationToken));
                await ReadExactlyAsync(2, cancellationToken);
            }
        }
        else
        {
            while (await FillAsync(cancellationToken)) { }
            body.Write(_buffer, _start, _end - _start);
            _start = _end;
        }
        return new Response(status, headers, Encoding.UTF8.GetString(body.ToArray()));
    }

    private async Task<byte[]> ReadUntilAsync(byte[] delimiter, CancellationToken cancellationToken)
    {
        while (true)
        {
            int at = _buffer.AsSpan(_start, _end - _start).IndexOf(delimiter);
            if (at >= 0)
            {
                var result = _buffer.AsSpan(_start, at).ToArray();
                _start += at + delimiter.Length;
                return result;
            }
            if (!await FillAsync(cancellationToken)) throw new EndOfStreamException("the server closed the connection mid-response");
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancellationToken)
    {
        while (_end - _start < count)
        {
            if (!await FillAsync(cancellationToken)) throw new EndOfStreamException("the server closed the connection mid-body");
        }
        var result = _buffer.AsSpan(_start, count).ToArray();
        _start += count;
        return result;
    }

    /// <summary>Reads more from the socket; false at its end.</summary>
    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
        int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        _end += read;
        return read > 0;
    }

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}
