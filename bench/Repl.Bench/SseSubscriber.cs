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
    private SseStreamParser? _parser;
    private long _start;
    private long _now;
    private long _batch;
    private long _batchMaxMicros;
    private long _batchLate;

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
        ReceivedIds?.Clear();
    }

    /// <summary>When set (<c>--timeline</c>), each receive's deliveries are also counted in their 100 ms slot.</summary>
    public Timeline? Timeline { get; init; }

    /// <summary>When set (<c>--retry</c>), every message id received, for the check against the acknowledged ids.</summary>
    public List<long>? ReceivedIds { get; init; }

    public long Received { get; private set; }
    public long LastId { get; private set; } = long.MinValue;
    public long Duplicates { get; private set; }
    public long OutOfOrder { get; private set; }
    /// <summary>Stopwatch ticks from connect to the response head (EventSource's <c>open</c>).</summary>
    public long ConnectTicks { get; private set; }
    public string? Failure { get; private set; }
    public bool Closed { get; private set; }
    public Task Connected => _connected.Task;

    /// <summary>The request, sent once after connecting.</summary>
    internal byte[] Request => _request;

    /// <summary>The receive buffer: the response head accumulates at its start, then each receive lands there.</summary>
    internal byte[] Buffer => _buffer;

    /// <summary>Set when the server ended the stream (last chunk): the subscriber was cut off.</summary>
    internal bool Ended => _parser?.Ended ?? false;

    /// <summary>Connects, sends the request, checks the status and reads until the stream ends or <see cref="Stop"/> (<c>--receiver async</c>).</summary>
    public async Task RunAsync()
    {
        MarkStart();
        try
        {
            var socket = new Socket(_endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            _socket = socket;
            await socket.ConnectAsync(_endpoint).ConfigureAwait(false);
            await socket.SendAsync(_request, SocketFlags.None).ConfigureAwait(false);
            int filled = 0;
            do
            {
                if (filled == _buffer.Length) throw new InvalidDataException("response head larger than the receive buffer");
                int read = await socket.ReceiveAsync(_buffer.AsMemory(filled), SocketFlags.None).ConfigureAwait(false);
                if (read == 0) throw new InvalidDataException("connection closed before the response head");
                filled += read;
            }
            while (!TryReadHead(filled));
            while (!Ended)
            {
                int read = await socket.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
                if (read == 0) break;
                Receive(0, read);
            }
            Close();
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException or IOException or InvalidDataException)
        {
            Fail(error.Message);
        }
    }

    /// <summary>The connect clock starts (connect time runs to the response head).</summary>
    internal void MarkStart() => _start = Stopwatch.GetTimestamp();

    /// <summary>
    /// Checks the first <paramref name="filled"/> bytes of <see cref="Buffer"/> for a whole response head; once there
    /// is one, checks its status, sets up the parser and feeds it the body bytes that came with the head.
    /// </summary>
    /// <returns>False while the head is incomplete.</returns>
    /// <exception cref="InvalidDataException">The status is not 200.</exception>
    internal bool TryReadHead(int filled)
    {
        int end = _buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
        if (end < 0) return false;
        var head = Encoding.ASCII.GetString(_buffer, 0, end);
        var status = head.Length >= 12 ? head.AsSpan(9, 3) : default;
        if (!status.SequenceEqual("200")) throw new InvalidDataException($"SSE request failed: {head.Split("\r\n")[0]}");
        bool chunked = head.Contains("transfer-encoding: chunked", StringComparison.OrdinalIgnoreCase);
        // Subscribed from here, as EventSource's `open`: whatever is published after this must arrive. (Counted from the
        // `connected` event instead, a stream that started after its head would hide the messages it skipped.)
        ConnectTicks = Stopwatch.GetTimestamp() - _start;
        _connected.TrySetResult();
        _parser = new SseStreamParser(chunked) { OnMessage = OnMessage };
        Receive(end + 4, filled - end - 4);
        return true;
    }

    /// <summary>Feeds received body bytes from <see cref="Buffer"/>: every whole event is counted and timed with one clock read.</summary>
    internal void Receive(int offset, int count)
    {
        _now = Stopwatch.GetTimestamp();
        _batch = 0;
        _batchMaxMicros = 0;
        _batchLate = 0;
        _parser!.Feed(_buffer.AsSpan(offset, count));
        if (_batch > 0)
        {
            _deliveries.Add(_batch, _now);
            Timeline?.Delivered(_now, _batch, _batchMaxMicros, _batchLate);
        }
    }

    /// <summary>The stream ended (the server closed it, or <see cref="Stop"/>).</summary>
    internal void Close()
    {
        Closed = true;
        _connected.TrySetException(new IOException("stream closed before connected"));
    }

    /// <summary>The stream failed; the failure is kept unless the run was stopping anyway.</summary>
    internal void Fail(string message)
    {
        if (!_stopping) Failure = message;
        Closed = true;
        _connected.TrySetException(new IOException(message));
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
        ReceivedIds?.Add(id);
        if (sentTicks <= 0) return;
        long micros = (_now - sentTicks) * 1_000_000 / Stopwatch.Frequency;
        _latency.Record(micros);
        if (micros > _batchMaxMicros) _batchMaxMicros = micros;
        if (micros >= Timeline.LateMs * 1000) _batchLate++;
    }
}
