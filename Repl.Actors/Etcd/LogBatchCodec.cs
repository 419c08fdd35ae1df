using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Repl.Actors.Log;

namespace Repl.Actors.Etcd;

/// <summary>
/// The binary value of one log batch in etcd: <c>version:u8</c>, from version 3 <c>first:i64 LE</c> (the position of
/// the batch's first entry), <c>count:varint</c>, then per entry <c>kind:u8, topic:(varint length, UTF-8),
/// createdAtMs:i64 LE, body:(varint length, bytes)</c>, from version 2 <c>key:(varint length + 1, UTF-8; 0 = none)</c>,
/// the publish's idempotency key, and from version 3 <c>through:i64 LE</c> (a truncate's last position). Version 4 is
/// version 3's layout, written when the batch holds a <see cref="LogEntryKind.Settings"/> entry (its body is the
/// settings' JSON, its <c>through</c> the topic's create position).
/// </summary>
/// <remarks>
/// <para><b>Positions.</b> Version 3 batches are written by the sequencer's journal (<see cref="EtcdJournal"/>):
/// an entry's position is its sequence number, <c>first + index</c>. Versions 1 and 2 were written by every node
/// itself, before the cluster had a sequencer; their positions derive from etcd's revision
/// (<see cref="EtcdPositions"/>) and they still decode, so a cluster's old log reads on, and the sequencer continues
/// numbering after its last position.</para>
/// <para><b>Version 4</b> only marks batches that hold topic settings: a node of a build from before settings fails on
/// such a batch ("unknown format") rather than apply the log without them, and reads every other batch as before, so
/// a cluster upgraded one node at a time keeps running until the first setting is changed.</para>
/// <para>Bodies are stored without their id (<see cref="PublishCommand.Body"/>): every node splices the position in
/// when it decodes, so the log holds each body once. Binary because bodies are already JSON bytes.</para>
/// </remarks>
internal static class LogBatchCodec
{
    private const byte Version = 3;
    private const byte SettingsVersion = 4;

    /// <summary>Encoded size of one entry, for splitting batches by bytes.</summary>
    public static int SizeOf(string topic, int bodyLength, string? key = null) =>
        1 + 5 + Encoding.UTF8.GetByteCount(topic) + 8 + 5 + bodyLength + 5 + (key is null ? 0 : Encoding.UTF8.GetByteCount(key)) + 8;

    /// <summary>Encoded size of a batch's publishes, all of them logged: what they take of one transaction at most.</summary>
    public static long SizeOf(PublishCommand[] commands)
    {
        long size = 0;
        foreach (var c in commands) size += SizeOf(c.Topic, c.Body.Length, c.Key);
        return size;
    }

    /// <summary>Encodes entries whose positions are <paramref name="first"/>, <paramref name="first"/> + 1, ...</summary>
    public static byte[] Encode(long first, IReadOnlyList<LogEvent> entries)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + entries.Sum(e => SizeOf(e.Topic, e.Body.Length, e.Key)));
        buffer.Write([HoldsSettings(entries) ? SettingsVersion : Version]);
        WriteInt64(buffer, first);
        WriteVarint(buffer, (uint)entries.Count);
        foreach (var (kind, topic, body, createdAtMs, through, key) in entries)
        {
            buffer.Write([(byte)kind]);
            var name = Encoding.UTF8.GetBytes(topic);
            WriteVarint(buffer, (uint)name.Length);
            buffer.Write(name);
            WriteInt64(buffer, createdAtMs);
            WriteVarint(buffer, (uint)body.Length);
            buffer.Write(body);
            var keyBytes = key is null ? null : Encoding.UTF8.GetBytes(key);
            WriteVarint(buffer, keyBytes is null ? 0 : (uint)keyBytes.Length + 1);
            if (keyBytes is not null) buffer.Write(keyBytes);
            WriteInt64(buffer, through);
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The position of the last entry of the batch committed at <paramref name="revision"/> (0 when it is empty).</summary>
    public static long LastPosition(ReadOnlySpan<byte> value, long revision)
    {
        if (value.Length == 0 || value[0] is not (1 or 2 or Version or SettingsVersion)) throw new FormatException($"log batch at revision {revision} has an unknown format");
        int offset = value[0] >= 3 ? 9 : 1;
        uint count = ReadVarint(value, ref offset);
        if (count == 0) return 0;
        return value[0] >= 3 ? BinaryPrimitives.ReadInt64LittleEndian(value[1..]) + count - 1 : EtcdPositions.Of(revision, (int)count - 1);
    }

    /// <summary>Decodes the batch committed at <paramref name="revision"/>, keeping the entries after <paramref name="after"/>.</summary>
    public static void Decode(ReadOnlySpan<byte> value, long revision, long after, List<LogEntry> into)
    {
        if (value.Length == 0 || value[0] is not (1 or 2 or Version or SettingsVersion)) throw new FormatException($"log batch at revision {revision} has an unknown format");
        byte version = value[0];
        int offset = 1;
        long first = 0;
        if (version >= 3)
        {
            first = BinaryPrimitives.ReadInt64LittleEndian(value[offset..]);
            offset += 8;
        }
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
            long through = 0;
            if (version >= 3)
            {
                through = BinaryPrimitives.ReadInt64LittleEndian(value[offset..]);
                offset += 8;
            }
            long position = version >= 3 ? first + i : EtcdPositions.Of(revision, (int)i);
            if (position <= after) continue;
            byte[] message = kind switch
            {
                LogEntryKind.Publish => Messages.MessageJson.WithId(position, body),
                LogEntryKind.Settings => body.ToArray(),
                _ => [],
            };
            into.Add(new LogEntry(position, kind, topic, message, createdAtMs, through, key));
        }
    }

    private static bool HoldsSettings(IReadOnlyList<LogEvent> entries)
    {
        for (int i = 0; i < entries.Count; i++)
        {
            if (entries[i].Kind == LogEntryKind.Settings) return true;
        }
        return false;
    }

    private static void WriteInt64(IBufferWriter<byte> buffer, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(buffer.GetSpan(8), value);
        buffer.Advance(8);
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
