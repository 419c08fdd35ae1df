using System.Buffers.Text;

namespace Repl.Bench;

/// <summary>
/// A minimal streaming parser for an HTTP/1.1 SSE response body: undoes chunked transfer coding when the
/// response uses it, splits lines, and reports each message event's <c>id</c> and the send timestamp carried
/// at the start of its <c>value</c>. Events with an <c>event:</c> line (connected, ping, gap...) are counted
/// apart and never taken for messages.
/// </summary>
/// <remarks>
/// Lines are handled in the receive buffer where they lie; only a line split across two receives is copied
/// (into <see cref="_carry"/>). The message JSON is not parsed: the timestamp is found after <c>"value":"</c>.
/// </remarks>
internal sealed class SseStreamParser(bool chunked)
{
    private enum ChunkState { Size, Extension, Data, DataEnd, Done }

    private readonly bool _chunked = chunked;
    private ChunkState _chunkState;
    private long _chunkSize;
    private long _chunkLeft;

    private byte[] _carry = new byte[256];
    private int _carryLength;

    // The event being read.
    private bool _hasId;
    private long _id;
    private long _sentTicks;
    private EventKind _event;

    private enum EventKind { Message, Connected, Ping, Other }

    /// <summary>Set when the server ended the stream (last chunk) — the subscriber was cut off.</summary>
    public bool Ended => _chunkState == ChunkState.Done;

    /// <summary>Called for each message event: its id and its send timestamp (0 when the value carries none).</summary>
    public required Action<long, long> OnMessage { get; init; }

    public long Pings { get; private set; }

    public long OtherEvents { get; private set; }

    public void Feed(ReadOnlySpan<byte> data)
    {
        if (!_chunked)
        {
            FeedBody(data);
            return;
        }
        while (!data.IsEmpty)
        {
            switch (_chunkState)
            {
                case ChunkState.Size:
                {
                    byte b = data[0];
                    data = data[1..];
                    int digit = HexValue(b);
                    if (digit >= 0) _chunkSize = _chunkSize * 16 + digit;
                    else if (b == (byte)';') _chunkState = ChunkState.Extension;
                    else if (b == (byte)'\n') StartChunk();
                    break;
                }
                case ChunkState.Extension:
                {
                    int lf = data.IndexOf((byte)'\n');
                    if (lf < 0) return;
                    data = data[(lf + 1)..];
                    StartChunk();
                    break;
                }
                case ChunkState.Data:
                {
                    int n = (int)Math.Min(_chunkLeft, data.Length);
                    FeedBody(data[..n]);
                    data = data[n..];
                    _chunkLeft -= n;
                    if (_chunkLeft == 0) _chunkState = ChunkState.DataEnd;
                    break;
                }
                case ChunkState.DataEnd:
                {
                    int lf = data.IndexOf((byte)'\n');
                    if (lf < 0) return;
                    data = data[(lf + 1)..];
                    _chunkState = ChunkState.Size;
                    _chunkSize = 0;
                    break;
                }
                case ChunkState.Done:
                    return;
            }
        }
    }

    private void StartChunk()
    {
        if (_chunkSize == 0)
        {
            _chunkState = ChunkState.Done;
            return;
        }
        _chunkLeft = _chunkSize;
        _chunkState = ChunkState.Data;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };

    private void FeedBody(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int lf = data.IndexOf((byte)'\n');
            if (lf < 0)
            {
                Carry(data);
                return;
            }
            if (_carryLength > 0)
            {
                Carry(data[..lf]);
                Line(_carry.AsSpan(0, _carryLength));
                _carryLength = 0;
            }
            else
            {
                Line(data[..lf]);
            }
            data = data[(lf + 1)..];
        }
    }

    private void Carry(ReadOnlySpan<byte> part)
    {
        if (_carryLength + part.Length > _carry.Length) Array.Resize(ref _carry, Math.Max(_carry.Length * 2, _carryLength + part.Length));
        part.CopyTo(_carry.AsSpan(_carryLength));
        _carryLength += part.Length;
    }

    private void Line(ReadOnlySpan<byte> line)
    {
        if (!line.IsEmpty && line[^1] == (byte)'\r') line = line[..^1];
        if (line.IsEmpty)
        {
            Dispatch();
            return;
        }
        if (line.StartsWith("data:"u8))
        {
            if (_event == EventKind.Message) _sentTicks = ReadTimestamp(line);
        }
        else if (line.StartsWith("id:"u8))
        {
            var value = line[3..];
            if (!value.IsEmpty && value[0] == (byte)' ') value = value[1..];
            // position@epoch: the position is what the load program checks (order, loss).
            _hasId = Utf8Parser.TryParse(value, out _id, out _);
        }
        else if (line.StartsWith("event:"u8))
        {
            var name = line[6..];
            if (!name.IsEmpty && name[0] == (byte)' ') name = name[1..];
            _event = name.SequenceEqual("connected"u8) ? EventKind.Connected
                : name.SequenceEqual("ping"u8) ? EventKind.Ping
                : name.SequenceEqual("message"u8) ? EventKind.Message
                : EventKind.Other;
        }
        // retry:, comments (":...") and unknown fields are ignored, as EventSource does.
    }

    private void Dispatch()
    {
        switch (_event)
        {
            case EventKind.Message when _hasId:
                OnMessage(_id, _sentTicks);
                break;
            case EventKind.Connected:
                break; // the subscriber counts from the response head, not from this event
            case EventKind.Ping:
                Pings++;
                break;
            case EventKind.Other:
                OtherEvents++;
                break;
        }
        _hasId = false;
        _sentTicks = 0;
        _event = EventKind.Message;
    }

    /// <summary>The digits right after <c>"value":"</c> (the publisher's Stopwatch timestamp), or 0.</summary>
    private static long ReadTimestamp(ReadOnlySpan<byte> line)
    {
        int at = line.IndexOf("\"value\":\""u8);
        if (at < 0) return 0;
        return Utf8Parser.TryParse(line[(at + 9)..], out long ticks, out _) ? ticks : 0;
    }
}
