using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Repl.Bench;

/// <summary>
/// One SSE connection on a raw socket: a hand-written <c>GET</c>, then one receive loop that feeds
/// <see cref="SseStreamParser"/> straight from its own buffer.
/// </summary>
/// <remarks>
/// One async loop per connection (not a Task per message): a receive completes, every whole event in it is
/// counted and timed with one clock read, and the loop receives again. Counters are plain fields written by
/// that loop only; the driver reads them after the run.
/// </remarks>
internal sealed class SseSubscriber
{
    private readonly EndPoint _endpoint;
    private readonly byte[] _request;
    private readonly byte[] _buffer;
    private LatencyHistogram _latency;
    private DeliveryCounter _deliveries;
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Socket? _socket;
    private long _now;
    private long _batch;

    public SseSubscriber(EndPoint endpoint, string host, string path, int bufferBytes, LatencyHistogram latency, DeliveryCounter deliveries)
    {
        _endpoint = endpoint;
        _request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n");
        _buffer = new byte[bufferBytes];
        _latency = latency;
        _deliveries = deliveries;
    }

    /// <summary>Starts counting afresh (after warm-up): new latency and delivery sinks, received count back to 0.</summary>
    /// <remarks>Called between phases, when nothing is in flight; ids keep their order check across it.</remarks>
    public void Reset(LatencyHistogram latency, DeliveryCounter deliveries)
    {
        _latency = latency;
        _deliveries = deliveries;
        Received = 0;
    }

    public long Received { get; private set; }
    public long LastId { get; private set; } = long.MinValue;
    public long Duplicates { get; private set; }
    public long OutOfOrder { get; private set; }
    /// <summary>Stopwatch ticks from connect to the <c>connected</c> event.</summary>
    public long ConnectTicks { get; private set; }
    public string? Failure { get; private set; }
    public bool Closed { get; private set; }
    public Task Connected => _connected.Task;

    /// <summary>Connects, sends the request, checks the status and reads until the stream ends or <see cref="Stop"/>.</summary>
    public async Task RunAsync()
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            var socket = new Socket(_endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            _socket = socket;
            await socket.ConnectAsync(_endpoint).ConfigureAwait(false);
            await socket.SendAsync(_request, SocketFlags.None).ConfigureAwait(false);
            var (parser, leftover) = await ReadHeadAsync(socket).ConfigureAwait(false);
            parser.Feed(_buffer.AsSpan(leftover.Start, leftover.Length));
            while (true)
            {
                int read = await socket.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                if (read == 0) break;
                _now = Stopwatch.GetTimestamp();
                _batch = 0;
                parser.Feed(_buffer.AsSpan(0, read));
                if (_batch > 0) _deliveries.Add(_batch, _now);
                if (parser.Ended) break;
            }
            Closed = true;
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException or IOException or InvalidDataException)
        {
            if (!_stopping) Failure = error.Message;
            Closed = true;
        }
        finally
        {
            if (!_connected.Task.IsCompleted) _connected.TrySetException(new IOException(Failure ?? "stream closed before connected"));
        }

        (SseStreamParser Parser, (int Start, int Length) Leftover) MakeParser(bool chunked, int from, int to)
        {
            var parser = new SseStreamParser(chunked)
            {
                OnMessage = OnMessage,
                OnConnected = () =>
                {
                    ConnectTicks = Stopwatch.GetTimestamp() - start;
                    _connected.TrySetResult();
                },
            };
            return (parser, (from, to - from));
        }

        async Task<(SseStreamParser, (int Start, int Length))> ReadHeadAsync(Socket socket)
        {
            int filled = 0;
            while (true)
            {
                if (filled == _buffer.Length) throw new InvalidDataException("response head larger than the receive buffer");
                int read = await socket.ReceiveAsync(_buffer.AsMemory(filled), SocketFlags.None).ConfigureAwait(false);
                if (read == 0) throw new InvalidDataException("connection closed before the response head");
                filled += read;
                int end = _buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
                if (end < 0) continue;
                var head = Encoding.ASCII.GetString(_buffer, 0, end);
                var status = head.Length >= 12 ? head.AsSpan(9, 3) : default;
                if (!status.SequenceEqual("200")) throw new InvalidDataException($"SSE request failed: {head.Split("\r\n")[0]}");
                bool chunked = head.Contains("transfer-encoding: chunked", StringComparison.OrdinalIgnoreCase);
                _now = Stopwatch.GetTimestamp();
                return MakeParser(chunked, end + 4, filled);
            }
        }
    }

    private volatile bool _stopping;

    public void Stop()
    {
        _stopping = true;
        try
        {
            _socket?.Dispose();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private void OnMessage(long id, long sentTicks)
    {
        if (id > LastId)
        {
            Received++;
            LastId = id;
        }
        else if (id == LastId)
        {
            Duplicates++;
        }
        else
        {
            OutOfOrder++;
        }
        _batch++;
        if (sentTicks > 0) _latency.Record((_now - sentTicks) * 1_000_000 / Stopwatch.Frequency);
    }
}
