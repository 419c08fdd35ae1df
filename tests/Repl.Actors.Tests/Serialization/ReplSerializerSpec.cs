using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Sequencer;
using Repl.Actors.Serialization;
using Repl.Actors.ServerApi;
using Repl.Actors.Sharding;
using Repl.Actors.Tests.Specs;
using Repl.Actors.Topics;
using Xunit.Abstractions;

namespace Repl.Actors.Tests.Serialization;

/// <summary>Every Repl message through the serializer the HOCON binds it to.</summary>
public sealed class ReplSerializerSpec(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(ReplSpec.Config(ReplSpec.LocalHocon), "serializer-spec", output)
{
    /// <summary>One of each message, with every field set to something other than its default.</summary>
    private static readonly IReplMessage[] Messages =
    [
        new SequencerProtocol.Publish(42, [new PublishCommand("comments:42", Encoding.UTF8.GetBytes("{\"value\":\"é\"}"), 1_700_000_000_123), new PublishCommand("b", [], -1)], 1_800_000_000_000),
        new SequencerProtocol.Committed(7, [3, 0, long.MaxValue]),
        new SequencerProtocol.Committed(8, [3, 3, 5], [true, true, false]),
        new SequencerProtocol.Rejected(9, "the log write failed: disk full ✗"),
        new SequencerProtocol.OutcomeUnknown(10, "the log write's outcome is unknown: DeadlineExceeded ✗"),
        new SequencerProtocol.ChangeTopic(LogEntryKind.Truncate, "t", 99, 1_800_000_000_001),
        new SequencerProtocol.TopicChanged("t", 12),
        SequencerProtocol.Drain.Instance,
        new SequencerProtocol.Snapshot(["a", "comments:42", ""], []),
        SequencerProtocol.JournalSnapshot.Instance,
        new SequencerProtocol.Snapshot(["a"], [new IdempotencyKey("a", "order-17", 5, 1_800_000_000_000)]),
        new SequencerProtocol.Publish(8, [new PublishCommand("a", [1, 2], 3, "key-1"), new PublishCommand("a", [], 4)], 1_800_000_000_002),
        new SequencerProtocol.Publish(9, [new PublishCommand("a", [1], 3, "key-3"), new PublishCommand("b", [2], 3, "key-3"), new PublishCommand("a", [], 4)], 1_800_000_000_003, [2, 1]),
        new LogEvent(LogEntryKind.Publish, "a", [], 125, 0, "key-2"),
        new LogEvent(LogEntryKind.Publish, "a", Encoding.UTF8.GetBytes("{\"v\":1}"), 123, 0),
        new LogEvent(LogEntryKind.Truncate, "a", [], 124, 77),
        new TopicProtocol.Create("new"),
        new TopicProtocol.Delete("old"),
        new TopicProtocol.Retain("kept"),
        new TopicProtocol.Configure("c", new TopicSettings(PublishRate: 0.5), TopicSettingsFields.PublishRate | TopicSettingsFields.Presence),
        new SequencerProtocol.ChangeTopic(LogEntryKind.Settings, "t", 0, 1_800_000_000_003, new TopicSettings(10, TimeSpan.FromHours(1), 2048, 2.5, true),
            TopicSettingsFields.MaxMessages | TopicSettingsFields.Presence),
        new LogEvent(LogEntryKind.Settings, "a", new TopicSettings(MaxAge: TimeSpan.FromMinutes(5), Presence: false).ToJson(), 126, 3),
        RetentionProtocol.Run.Instance,
        new RetentionProtocol.Ran(42),
        new ServerApiProtocol.Disconnect("user|with/odd ✓", "banned for spam", 1_800_000_000_004),
        new ServerApiProtocol.Unsubscribe("0HN8:00000001", "comments:42"),
        new ServerApiProtocol.Done(3),
        new PresenceProtocol.Deltas("room:1", new("akka.tcp://repl@10.0.0.1:4053", 77), 3,
            [new PresenceProtocol.Client("c1", "ana", "repl-1", 1_800_000_000_000), new PresenceProtocol.Client("c2", null, "repl-1", 5)], ["c0"]),
        new PresenceProtocol.Full("room:1", new("akka.tcp://repl@10.0.0.1:4053", -77), 4, [new PresenceProtocol.Client("c1", "ana ✓", "repl-1", 6)]),
        new PresenceProtocol.Heartbeat("room:1", new("akka.tcp://repl@10.0.0.2:4053", 78), 9),
        new PresenceProtocol.Deltas("room:1", new("akka.tcp://repl@10.0.0.1:4053", 77), 4, [], ["c1"], Watching: true),
        new PresenceProtocol.Full("room:1", new("akka.tcp://repl@10.0.0.1:4053", 77), 5, [], Watching: true),
        new PresenceProtocol.Heartbeat("room:1", new("akka.tcp://repl@10.0.0.2:4053", 78), 9, Watching: true),
        new PresenceProtocol.Events("room:1", 7, [new PresenceProtocol.Change(true, "c1", "ana"), new PresenceProtocol.Change(false, "c2", null)], 12, 3, TellCounts: true),
        new PresenceProtocol.Resend("room:1"),
        new PresenceProtocol.List("room:1", "c1", 100),
        new PresenceProtocol.List("room:1", null, 1000),
        new PresenceProtocol.Page([new PresenceProtocol.Client("c2", null, "repl-2", 7)], 12),
        new PresenceProtocol.Stats("room:1"),
        new PresenceProtocol.Counts(12, 3),
    ];

    public static TheoryData<int> Indexes()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Messages.Length; i++) data.Add(i);
        return data;
    }

    private ReplSerializer Serializer => (ReplSerializer)Sys.Serialization.FindSerializerForType(typeof(IReplMessage));

    [Theory]
    [MemberData(nameof(Indexes))]
    public void EveryMessage_RoundTrips_ThroughTheBoundSerializer(int index)
    {
        var message = Messages[index];
        var bound = Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<ReplSerializer>(bound);
        Assert.Equal(ReplSerializer.Id, bound.Identifier);

        string manifest = Serializer.Manifest(message);
        byte[] bytes = Serializer.ToBinary(message);
        var back = Serializer.FromBinary(bytes, manifest);
        Assert.IsType(message.GetType(), back);
        // Records with arrays compare arrays by reference: the same bytes again, and the same text, say the same value.
        Assert.Equal(bytes, Serializer.ToBinary(back));
        Assert.Equal(Describe(message), Describe(back));

        // Through the system's serialization too (what remoting and the snapshot store use).
        var viaSystem = Sys.Serialization.Deserialize(Sys.Serialization.Serialize(message), ReplSerializer.Id, manifest);
        Assert.Equal(bytes, Serializer.ToBinary(viaSystem));
    }

    [Fact]
    public void EveryReplMessageType_IsCovered()
    {
        var types = typeof(IReplMessage).Assembly.GetTypes()
            .Where(type => typeof(IReplMessage).IsAssignableFrom(type) && type is { IsAbstract: false, IsInterface: false })
            .Select(type => type.FullName)
            .Order();
        Assert.Equal(types, Messages.Select(message => message.GetType().FullName).Distinct().Order());
    }

    [Fact]
    public void Manifests_AreDistinct_AndVersioned()
    {
        var manifests = Messages.Select(message => Serializer.Manifest(message)).Distinct().ToArray();
        // One type per manifest; a type may write two (a publish batch: SP3 only when a request commits whole; an answer:
        // SC2 only when it has retries; presence's deltas, full sets and heartbeats: PD2, PF2, PH2 only from a node that watches).
        Assert.All(Messages.GroupBy(message => Serializer.Manifest(message)), group => Assert.Single(group.Select(message => message.GetType()).Distinct()));
        Assert.Equal(Messages.Select(message => message.GetType()).Distinct().Count() + 5, manifests.Length);
        Assert.All(manifests, manifest => Assert.True(char.IsDigit(manifest[^1])));
    }

    [Fact]
    public void ChangeTopic_WrittenBeforeSettings_StillReads()
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            w.Write((byte)LogEntryKind.DeleteTopic);
            w.Write("old");
            w.Write(0L);
            w.Write(1_800_000_000_000L);
        }
        var change = Assert.IsType<SequencerProtocol.ChangeTopic>(Serializer.FromBinary(stream.ToArray(), "ST1"));
        Assert.Equal(new SequencerProtocol.ChangeTopic(LogEntryKind.DeleteTopic, "old", 0, 1_800_000_000_000), change);
    }

    [Fact]
    public void UnknownManifest_FailsClearly()
    {
        var error = Assert.Throws<SerializationException>(() => Serializer.FromBinary([1, 2, 3], "SP9"));
        Assert.Contains("SP9", error.Message);
    }

    [Fact]
    public void ANonReplMessage_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => Serializer.Manifest("just a string"));
        Assert.Throws<ArgumentException>(() => Serializer.ToBinary(42));
    }

    private static string Describe(object message) => message switch
    {
        SequencerProtocol.Publish p => $"{p.BatchId} {p.DeadlineMs} " + string.Join("|", p.Commands.Select(c => $"{c.Topic},{Convert.ToHexString(c.Body)},{c.CreatedAtMs}")),
        SequencerProtocol.Committed c => $"{c.BatchId} {string.Join(",", c.Positions)} {(c.Retried is null ? "-" : string.Join(",", c.Retried))}",
        SequencerProtocol.Snapshot s => string.Join("|", s.Topics),
        LogEvent e => $"{e.Kind} {e.Topic} {Convert.ToHexString(e.Body)} {e.CreatedAtMs} {e.Through}",
        PresenceProtocol.Deltas d => $"{d.Topic} {d.From} {d.Seq} {string.Join("|", d.Joins.Select(c => c.ToString()))} {string.Join("|", d.Leaves)} {d.Watching}",
        PresenceProtocol.Full f => $"{f.Topic} {f.From} {f.Seq} {string.Join("|", f.Clients.Select(c => c.ToString()))} {f.Watching}",
        PresenceProtocol.Events e => $"{e.Topic} {e.Applied} {string.Join("|", e.Changes)} {e.Clients} {e.Users} {e.TellCounts}",
        PresenceProtocol.Page p => $"{p.Total} {string.Join("|", p.Clients.Select(c => c.ToString()))}",
        _ => message.ToString()!,
    };
}
