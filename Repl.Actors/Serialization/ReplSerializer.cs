using Akka.Actor;
using Akka.Serialization;
using Repl.Actors.Log;
using Repl.Actors.Sequencer;
using Repl.Actors.ServerApi;
using Repl.Actors.Sharding;
using Repl.Actors.Topics;

namespace Repl.Actors.Serialization;

/// <summary>
/// The binary serializer for every <see cref="IReplMessage"/>: messages between nodes, persisted events, snapshots.
/// </summary>
/// <remarks>
/// Manifests carry a version digit: a change of layout gets a new manifest and the old one stays readable, so nodes
/// of two versions and snapshots written by an older one keep working. The layout is plain <see cref="BinaryWriter"/>
/// fields in declaration order (strings length-prefixed UTF-8, arrays count-prefixed).
/// </remarks>
public sealed class ReplSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Fixed id, bound in HOCON (<c>akka.actor.serialization-identifiers</c>); never reuse it for another layout.</summary>
    public const int Id = 7301;

    public override int Identifier => Id;

    public override string Manifest(object o) => o switch
    {
        // SP3 only for a batch with a request that commits whole (a broadcast): the rest stay readable by older nodes.
        SequencerProtocol.Publish { Requests: null } => "SP2",
        SequencerProtocol.Publish => "SP3",
        // SC1 without retries, as nodes before SC2 read it: an answer carries retries only for keyed publishes retried.
        SequencerProtocol.Committed { Retried: null } => "SC1",
        SequencerProtocol.Committed => "SC2",
        SequencerProtocol.Rejected => "SR1",
        SequencerProtocol.OutcomeUnknown => "SU1",
        SequencerProtocol.ChangeTopic => "ST2",
        SequencerProtocol.TopicChanged => "SD1",
        SequencerProtocol.Drain => "SX1",
        SequencerProtocol.Snapshot => LogPersistence.SnapshotManifest,
        SequencerProtocol.JournalSnapshot => "SS3",
        LogEvent => "LE2",
        TopicProtocol.Create => "TC1",
        TopicProtocol.Delete => "TD1",
        TopicProtocol.Retain => "TR1",
        TopicProtocol.Configure => "TS1",
        RetentionProtocol.Run => "RN1",
        RetentionProtocol.Ran => "RD1",
        ServerApiProtocol.Disconnect => "AD1",
        ServerApiProtocol.Unsubscribe => "AU1",
        ServerApiProtocol.Done => "AN1",
        // PD2, PF2, PH2 (a watching flag at the end) only for a node that watches: the rest stay readable by older nodes.
        PresenceProtocol.Deltas { Watching: false } => "PD1",
        PresenceProtocol.Deltas => "PD2",
        PresenceProtocol.Full { Watching: false } => "PF1",
        PresenceProtocol.Full => "PF2",
        PresenceProtocol.Heartbeat { Watching: false } => "PH1",
        PresenceProtocol.Heartbeat => "PH2",
        PresenceProtocol.Events => "PE1",
        PresenceProtocol.Resend => "PR1",
        PresenceProtocol.List => "PL1",
        PresenceProtocol.Page => "PP1",
        PresenceProtocol.Stats => "PS1",
        PresenceProtocol.Counts => "PC1",
        _ => throw new ArgumentException($"{o.GetType()} is not a Repl message", nameof(o)),
    };

    public override byte[] ToBinary(object obj)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream))
        {
            switch (obj)
            {
                case SequencerProtocol.Publish p:
                    w.Write(p.BatchId);
                    w.Write(p.DeadlineMs);
                    w.Write(p.Commands.Length);
                    foreach (var c in p.Commands)
                    {
                        w.Write(c.Topic);
                        WriteBytes(w, c.Body);
                        w.Write(c.CreatedAtMs);
                        WriteOptional(w, c.Key);
                        WriteOptional(w, c.TraceParent);
                    }
                    if (p.Requests is { } requests)
                    {
                        w.Write(requests.Length);
                        foreach (int count in requests) w.Write(count);
                    }
                    break;
                case SequencerProtocol.Committed c:
                    w.Write(c.BatchId);
                    w.Write(c.Positions.Length);
                    foreach (long position in c.Positions) w.Write(position);
                    if (c.Retried is { } retried)
                    {
                        foreach (bool retry in retried) w.Write(retry);
                    }
                    break;
                case SequencerProtocol.Rejected r:
                    w.Write(r.BatchId);
                    w.Write(r.Reason);
                    break;
                case SequencerProtocol.OutcomeUnknown u:
                    w.Write(u.BatchId);
                    w.Write(u.Reason);
                    break;
                case SequencerProtocol.ChangeTopic t:
                    w.Write((byte)t.Kind);
                    w.Write(t.Topic);
                    w.Write(t.Through);
                    w.Write(t.DeadlineMs);
                    WriteSettings(w, t.Settings ?? TopicSettings.None, t.Fields);
                    break;
                case SequencerProtocol.TopicChanged t:
                    w.Write(t.Topic);
                    w.Write(t.Position);
                    break;
                case SequencerProtocol.Drain or SequencerProtocol.JournalSnapshot:
                    break;
                case SequencerProtocol.Snapshot s:
                    LogPersistence.WriteSnapshot(w, s.Topics, s.Keys);
                    break;
                case LogEvent e:
                    w.Write((byte)e.Kind);
                    w.Write(e.Topic);
                    WriteBytes(w, e.Body);
                    w.Write(e.CreatedAtMs);
                    w.Write(e.Through);
                    WriteOptional(w, e.Key);
                    break;
                // Presence first: its commands are topic commands too, with more than the topic.
                case PresenceProtocol.Deltas d:
                    w.Write(d.Topic);
                    WriteOrigin(w, d.From);
                    w.Write(d.Seq);
                    WriteClients(w, d.Joins);
                    w.Write(d.Leaves.Length);
                    foreach (var leave in d.Leaves) w.Write(leave);
                    if (d.Watching) w.Write(true);
                    break;
                case PresenceProtocol.Full f:
                    w.Write(f.Topic);
                    WriteOrigin(w, f.From);
                    w.Write(f.Seq);
                    WriteClients(w, f.Clients);
                    if (f.Watching) w.Write(true);
                    break;
                case PresenceProtocol.Heartbeat h:
                    w.Write(h.Topic);
                    WriteOrigin(w, h.From);
                    w.Write(h.Seq);
                    if (h.Watching) w.Write(true);
                    break;
                case PresenceProtocol.Events e:
                    w.Write(e.Topic);
                    w.Write(e.Applied);
                    w.Write(e.Changes.Length);
                    foreach (var change in e.Changes)
                    {
                        w.Write(change.Joined);
                        w.Write(change.Client);
                        WriteOptional(w, change.User);
                    }
                    w.Write(e.Clients);
                    w.Write(e.Users);
                    w.Write(e.TellCounts);
                    break;
                case PresenceProtocol.Resend resend:
                    w.Write(resend.Topic);
                    break;
                case PresenceProtocol.List list:
                    w.Write(list.Topic);
                    WriteOptional(w, list.After);
                    w.Write(list.Limit);
                    break;
                case PresenceProtocol.Page page:
                    WriteClients(w, page.Clients);
                    w.Write(page.Total);
                    break;
                case PresenceProtocol.Counts counts:
                    w.Write(counts.Clients);
                    w.Write(counts.Users);
                    break;
                case TopicProtocol.Configure c:
                    w.Write(c.Topic);
                    WriteSettings(w, c.Settings, c.Fields);
                    break;
                case TopicProtocol.ICommand t:
                    w.Write(t.Topic);
                    break;
                case RetentionProtocol.Run:
                    break;
                case RetentionProtocol.Ran ran:
                    w.Write(ran.Position);
                    break;
                case ServerApiProtocol.Disconnect d:
                    w.Write(d.User);
                    w.Write(d.Reason);
                    w.Write(d.UntilMs);
                    break;
                case ServerApiProtocol.Unsubscribe u:
                    w.Write(u.Client);
                    w.Write(u.Topic);
                    break;
                case ServerApiProtocol.Done done:
                    w.Write(done.Streams);
                    break;
                default:
                    throw new ArgumentException($"{obj.GetType()} is not a Repl message", nameof(obj));
            }
        }
        return stream.ToArray();
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        using var r = new BinaryReader(new MemoryStream(bytes));
        switch (manifest)
        {
            case "SP1" or "SP2" or "SP3":
            {
                long batch = r.ReadInt64(), deadline = r.ReadInt64();
                var commands = new PublishCommand[r.ReadInt32()];
                for (int i = 0; i < commands.Length; i++)
                {
                    commands[i] = manifest != "SP1"
                        ? new PublishCommand(r.ReadString(), ReadBytes(r), r.ReadInt64(), ReadOptional(r), ReadOptional(r))
                        : new PublishCommand(r.ReadString(), ReadBytes(r), r.ReadInt64());
                }
                int[]? requests = null;
                if (manifest == "SP3")
                {
                    requests = new int[r.ReadInt32()];
                    for (int i = 0; i < requests.Length; i++) requests[i] = r.ReadInt32();
                }
                return new SequencerProtocol.Publish(batch, commands, deadline, requests);
            }
            case "SC1" or "SC2":
            {
                long batch = r.ReadInt64();
                var positions = new long[r.ReadInt32()];
                for (int i = 0; i < positions.Length; i++) positions[i] = r.ReadInt64();
                if (manifest == "SC1") return new SequencerProtocol.Committed(batch, positions);
                var retried = new bool[positions.Length];
                for (int i = 0; i < retried.Length; i++) retried[i] = r.ReadBoolean();
                return new SequencerProtocol.Committed(batch, positions, retried);
            }
            case "SR1": return new SequencerProtocol.Rejected(r.ReadInt64(), r.ReadString());
            case "SU1": return new SequencerProtocol.OutcomeUnknown(r.ReadInt64(), r.ReadString());
            case "ST1": return new SequencerProtocol.ChangeTopic((LogEntryKind)r.ReadByte(), r.ReadString(), r.ReadInt64(), r.ReadInt64());
            case "ST2":
            {
                var change = new SequencerProtocol.ChangeTopic((LogEntryKind)r.ReadByte(), r.ReadString(), r.ReadInt64(), r.ReadInt64());
                var (settings, fields) = ReadSettings(r);
                // A change that names no setting carries none (a create, delete or truncate).
                return fields == TopicSettingsFields.None ? change : change with { Settings = settings, Fields = fields };
            }
            case "SD1": return new SequencerProtocol.TopicChanged(r.ReadString(), r.ReadInt64());
            case "SX1": return SequencerProtocol.Drain.Instance;
            case "SS3": return SequencerProtocol.JournalSnapshot.Instance;
            case "SS1" or "SS2":
            {
                var (topics, keys) = LogPersistence.ReadSnapshot(r, withKeys: manifest == LogPersistence.SnapshotManifest);
                return new SequencerProtocol.Snapshot(topics, keys);
            }
            case "LE1": return new LogEvent((LogEntryKind)r.ReadByte(), r.ReadString(), ReadBytes(r), r.ReadInt64(), r.ReadInt64());
            case "LE2": return new LogEvent((LogEntryKind)r.ReadByte(), r.ReadString(), ReadBytes(r), r.ReadInt64(), r.ReadInt64(), ReadOptional(r));
            case "TC1": return new TopicProtocol.Create(r.ReadString());
            case "TD1": return new TopicProtocol.Delete(r.ReadString());
            case "TR1": return new TopicProtocol.Retain(r.ReadString());
            case "TS1":
            {
                string topic = r.ReadString();
                var (settings, fields) = ReadSettings(r);
                return new TopicProtocol.Configure(topic, settings, fields);
            }
            case "RN1": return RetentionProtocol.Run.Instance;
            case "RD1": return new RetentionProtocol.Ran(r.ReadInt64());
            case "AD1": return new ServerApiProtocol.Disconnect(r.ReadString(), r.ReadString(), r.ReadInt64());
            case "AU1": return new ServerApiProtocol.Unsubscribe(r.ReadString(), r.ReadString());
            case "AN1": return new ServerApiProtocol.Done(r.ReadInt32());
            case "PD1" or "PD2":
            {
                string topic = r.ReadString();
                var from = ReadOrigin(r);
                long seq = r.ReadInt64();
                var joins = ReadClients(r);
                var leaves = new string[r.ReadInt32()];
                for (int i = 0; i < leaves.Length; i++) leaves[i] = r.ReadString();
                return new PresenceProtocol.Deltas(topic, from, seq, joins, leaves, manifest == "PD2" && r.ReadBoolean());
            }
            case "PF1" or "PF2": return new PresenceProtocol.Full(r.ReadString(), ReadOrigin(r), r.ReadInt64(), ReadClients(r), manifest == "PF2" && r.ReadBoolean());
            case "PH1" or "PH2": return new PresenceProtocol.Heartbeat(r.ReadString(), ReadOrigin(r), r.ReadInt64(), manifest == "PH2" && r.ReadBoolean());
            case "PE1":
            {
                string topic = r.ReadString();
                long applied = r.ReadInt64();
                var changes = new PresenceProtocol.Change[r.ReadInt32()];
                for (int i = 0; i < changes.Length; i++) changes[i] = new PresenceProtocol.Change(r.ReadBoolean(), r.ReadString(), ReadOptional(r));
                return new PresenceProtocol.Events(topic, applied, changes, r.ReadInt32(), r.ReadInt32(), r.ReadBoolean());
            }
            case "PR1": return new PresenceProtocol.Resend(r.ReadString());
            case "PL1": return new PresenceProtocol.List(r.ReadString(), ReadOptional(r), r.ReadInt32());
            case "PP1": return new PresenceProtocol.Page(ReadClients(r), r.ReadInt32());
            case "PS1": return new PresenceProtocol.Stats(r.ReadString());
            case "PC1": return new PresenceProtocol.Counts(r.ReadInt32(), r.ReadInt32());
            default: throw new System.Runtime.Serialization.SerializationException($"unknown Repl manifest '{manifest}' (written by a newer version?)");
        }
    }

    /// <summary>A settings change: the fields it names, then the settings as the log stores them (<see cref="TopicSettings.ToJson"/>).</summary>
    private static void WriteSettings(BinaryWriter w, TopicSettings settings, TopicSettingsFields fields)
    {
        w.Write((byte)fields);
        WriteBytes(w, settings.ToJson());
    }

    private static (TopicSettings Settings, TopicSettingsFields Fields) ReadSettings(BinaryReader r)
    {
        var fields = (TopicSettingsFields)r.ReadByte();
        return (TopicSettings.FromJson(ReadBytes(r)), fields);
    }

    private static void WriteOptional(BinaryWriter w, string? value)
    {
        w.Write(value is not null);
        if (value is not null) w.Write(value);
    }

    private static string? ReadOptional(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    private static void WriteOrigin(BinaryWriter w, PresenceProtocol.Origin origin)
    {
        w.Write(origin.Address);
        w.Write(origin.Incarnation);
    }

    private static PresenceProtocol.Origin ReadOrigin(BinaryReader r) => new(r.ReadString(), r.ReadInt64());

    private static void WriteClients(BinaryWriter w, PresenceProtocol.Client[] clients)
    {
        w.Write(clients.Length);
        foreach (var client in clients)
        {
            w.Write(client.Id);
            WriteOptional(w, client.User);
            w.Write(client.Node);
            w.Write(client.SinceMs);
        }
    }

    private static PresenceProtocol.Client[] ReadClients(BinaryReader r)
    {
        var clients = new PresenceProtocol.Client[r.ReadInt32()];
        for (int i = 0; i < clients.Length; i++) clients[i] = new PresenceProtocol.Client(r.ReadString(), ReadOptional(r), r.ReadString(), r.ReadInt64());
        return clients;
    }

    private static void WriteBytes(BinaryWriter w, byte[] bytes)
    {
        w.Write(bytes.Length);
        w.Write(bytes);
    }

    private static byte[] ReadBytes(BinaryReader r) => r.ReadBytes(r.ReadInt32());
}
