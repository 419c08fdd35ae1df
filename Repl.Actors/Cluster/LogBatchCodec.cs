using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Repl.Actors.Log;

namespace Repl.Actors.Cluster;

/// <summary>
/// The binary value of one log batch in etcd: <c>version:u8, count:varint, then per entry
/// kind:u8, topic:(varint length, UTF-8), createdAtMs:i64 LE, body:(varint length, bytes)</c>, and from version 2
/// <c>key:(varint length + 1, UTF-8; 0 = none)</c>, the publish's idempotency key. Version 1 values still decode.
/// </summary>
/// <remarks>
/// Bodies are stored without their id (<see cref="PublishCommand.Body"/>): the id is the position, known only once
/// etcd has assigned the revision, and every node splices the same one in when it decodes.
/// Binary rather than JSON because the gateway base64-encodes values anyway and bodies are already JSON bytes.
/// </remarks>
internal static class LogBatchCodec
{
    private const byte Version = 2;

    /// <summary>Encoded size of one entry, for splitting batches by bytes.</summary>
    public static int SizeOf(string topic, int bodyLength, string? key = null) =>
        1 + 5 + Encoding.UTF8.GetByteCount(topic) + 8 + 5 + bodyLength + 5 + (key is null ? 0 : Encoding.UTF8.GetByteCount(key));

    public static byte[] Encode(IReadOnlyList<(LogEntryKind Kind, string Topic, byte[] Body, long CreatedAtMs, string? Key)> entries)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + entries.Sum(e => SizeOf(e.Topic, e.Body.Length, e.Key)));
        buffer.Write([Version]);
        WriteVarint(buffer, (uint)entries.Count);
        foreach (var (kind, topic, body, createdAtMs, key) in entries)
        {
            buffer.Write([(byte)kind]);
            var name = Encoding.UTF8.GetBytes(topic);
            WriteVarint(buffer, (uint)name.Length);
            buffer.Write(name);
            BinaryPrimitives.WriteInt64LittleEndian(buffer.GetSpan(8), createdAtMs);
            buffer.Advance(8);
            WriteVarint(buffer, (uint)body.Length);
            buffer.Write(body);
            var keyBytes = key is null ? null : Encoding.UTF8.GetBytes(key);
            WriteVarint(buffer, keyBytes is null ? 0 : (uint)keyBytes.Length + 1);
            if (keyBytes is not null) buffer.Write(keyBytes);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Decodes the batch committed at <paramref name="revision"/>, keeping the entries after <paramref name="after"/>.</summary>
    public static void Decode(ReadOnlySpan<byte> value, long revision, long after, List<LogEntry> into)
    {
        if (value.Length == 0 || value[0] is not (1 or Version)) throw new FormatException($"log batch at revision {revision} has an unknown format");
        byte version = value[0];
        int offset = 1;
        uint count = ReadVarint(value, ref offset);
        for (uint i = 0; i < count; i++)
        {
            var kind = (LogEntryKind)value[offset++];
            int topicLength = (int)ReadVarint(value, ref offset);
            string topic = Encoding.UTF8.GetString(value.Slice(offset, topicLength));
            offset += topicLength;
            long createdAtMs = BinaryPrimitives.ReadInt64LittleEndian(value[offset..]);
            offset += 8;
            int bodyLength = (int)ReadVarint(value, ref offset);
            var body = value.Slice(offset, bodyLength);
            offset += bodyLength;
            string? key = null;
            if (version >= 2 && ReadVarint(value, ref offset) is var keyLength and > 0)
            {
                key = Encoding.UTF8.GetString(value.Slice(offset, (int)keyLength - 1));
                offset += (int)keyLength - 1;
            }
            long position = EtcdPositions.Of(revision, (int)i);
            if (position <= after) continue;
            byte[] message = kind == LogEntryKind.Publish ? Messages.MessageJson.WithId(position, body) : [];
            into.Add(new LogEntry(position, kind, topic, message, createdAtMs, Key: key));
        }
    }

    private static void WriteVarint(IBufferWriter<byte> buffer, uint value)
    {
        var span = buffer.GetSpan(5);
        int length = 0;
        while (value >= 0x80)
        {
            span[length++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[length++] = (byte)value;
        buffer.Advance(length);
    }

    private static uint ReadVarint(ReadOnlySpan<byte> value, ref int offset)
    {
        uint result = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = value[offset++];
            result |= (uint)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
    }
}
