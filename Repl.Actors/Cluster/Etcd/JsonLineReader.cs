using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Repl.Actors.Cluster.Etcd;

/// <summary>
/// Reads a grpc-gateway response stream: compact JSON objects, one per line
/// (the gateway's JSON marshaler writes no newlines inside a message).
/// </summary>
internal sealed class JsonLineReader<T>(Stream stream, JsonTypeInfo<T> typeInfo) : IAsyncDisposable
    where T : class
{
    private readonly PipeReader _reader = PipeReader.Create(stream);

    /// <summary>The next object, or null at the end of the stream.</summary>
    public async ValueTask<T?> ReadAsync(CancellationToken ct)
    {
        while (true)
        {
            var result = await _reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            while (TryTakeLine(ref buffer, out var line))
            {
                if (Parse(line) is { } item)
                {
                    // Consumed up to here but not examined beyond: further complete lines
                    // already buffered must be returned without waiting for more bytes.
                    _reader.AdvanceTo(buffer.Start);
                    return item;
                }
            }

            if (result.IsCompleted)
            {
                // A last object without its newline still counts.
                var tail = Parse(buffer);
                _reader.AdvanceTo(buffer.End);
                return tail;
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public async ValueTask DisposeAsync() => await _reader.CompleteAsync().ConfigureAwait(false);

    private static bool TryTakeLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        if (buffer.PositionOf((byte)'\n') is not { } newline)
        {
            line = default;
            return false;
        }

        line = buffer.Slice(0, newline);
        buffer = buffer.Slice(buffer.GetPosition(1, newline));
        return true;
    }

    private T? Parse(ReadOnlySequence<byte> line)
    {
        if (IsBlank(line))
        {
            return null;
        }

        var reader = new Utf8JsonReader(line);
        return JsonSerializer.Deserialize(ref reader, typeInfo);
    }

    private static bool IsBlank(ReadOnlySequence<byte> line)
    {
        foreach (var segment in line)
        {
            foreach (var b in segment.Span)
            {
                if (b is not ((byte)' ' or (byte)'\r' or (byte)'\t'))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
