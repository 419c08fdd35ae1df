using System.Text;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Topics;

namespace Repl.Actors.Tests.Etcd;

/// <summary>The etcd log's batch value: settings entries (version 4) round-trip, and the versions before still read.</summary>
public sealed class LogBatchCodecTests
{
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("{\"topic\":\"a\",\"value\":\"v\",\"headers\":{},\"createdAt\":\"2026-12-07T00:00:00Z\"}");

    private static List<LogEntry> Decode(byte[] value, long revision = 50, long after = 0)
    {
        var entries = new List<LogEntry>();
        LogBatchCodec.Decode(value, revision, after, entries);
        return entries;
    }

    [Fact]
    public void SettingsEntry_RoundTrips_InAVersion4Batch()
    {
        var settings = new TopicSettings(MaxMessages: 10, MaxAge: TimeSpan.FromHours(2), MaxMessageBytes: 512, PublishRate: 2.5, Presence: true);
        var value = LogBatchCodec.Encode(7, [
            new LogEvent(LogEntryKind.Publish, "a", Body, 100, Key: "k"),
            new LogEvent(LogEntryKind.Settings, "a", settings.ToJson(), 101, 3),
        ]);
        Assert.Equal(4, value[0]);
        Assert.Equal(8, LogBatchCodec.LastPosition(value, 50));
        var entries = Decode(value);
        Assert.Equal([7L, 8L], entries.Select(entry => entry.Position));
        Assert.Equal(LogEntryKind.Settings, entries[1].Kind);
        Assert.Equal(3, entries[1].Through);
        Assert.Equal(settings, TopicSettings.FromJson(entries[1].Message));
        Assert.Equal("k", entries[0].Key);
        Assert.StartsWith("{\"id\":\"7\",", Encoding.UTF8.GetString(entries[0].Message));
    }

    [Fact]
    public void BatchWithoutSettings_IsStillVersion3_SoNodesOfTheBuildBeforeReadIt()
    {
        var value = LogBatchCodec.Encode(1, [new LogEvent(LogEntryKind.CreateTopic, "a", [], 1), new LogEvent(LogEntryKind.Publish, "a", Body, 2)]);
        Assert.Equal(3, value[0]);
        Assert.Equal([LogEntryKind.CreateTopic, LogEntryKind.Publish], Decode(value).Select(entry => entry.Kind));
    }

    [Fact]
    public void Version2Batch_WrittenBeforeTheSequencer_StillReads_WithPositionsFromItsRevision()
    {
        // version 2: count, then kind, topic, createdAt, body, key (length + 1; 0 = none); no first position, no through.
        using var stream = new MemoryStream();
        stream.Write([2, 2]);
        foreach (var (kind, body) in new[] { (LogEntryKind.CreateTopic, Array.Empty<byte>()), (LogEntryKind.Publish, Body) })
        {
            stream.WriteByte((byte)kind);
            stream.WriteByte(1);
            stream.WriteByte((byte)'a');
            stream.Write(BitConverter.GetBytes(1_700_000_000_000L));
            stream.WriteByte((byte)body.Length);
            stream.Write(body);
            stream.WriteByte(0);
        }
        var entries = Decode(stream.ToArray(), revision: 9);
        Assert.Equal([EtcdPositions.Of(9, 0), EtcdPositions.Of(9, 1)], entries.Select(entry => entry.Position));
        Assert.Equal(LogEntryKind.Publish, entries[1].Kind);
        Assert.Null(entries[1].Key);
    }

    [Fact]
    public void UnknownVersion_FailsClearly()
    {
        var error = Assert.Throws<FormatException>(() => Decode([5, 0]));
        Assert.Contains("unknown format", error.Message);
    }

    [Fact]
    public void TopicKeyValue_HoldsTheCreatePosition_AndTheSettingsOnlyWhenThereAreAny()
    {
        Assert.Equal("12", Encoding.UTF8.GetString(EtcdLog.TopicKeyValue(12, TopicSettings.None.ToJson())));
        Assert.Equal("12 {\"presence\":true}", Encoding.UTF8.GetString(EtcdLog.TopicKeyValue(12, new TopicSettings(Presence: true).ToJson())));
    }
}
