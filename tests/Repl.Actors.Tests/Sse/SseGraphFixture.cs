using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Repl.Actors.Log;
using Repl.Actors.Messages;
using Repl.Actors.Reader;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
using Repl.Sse;

namespace Repl.Actors.Tests.Sse;

/// <summary>A real log reader (in an actor system of its own) over an in-memory journal, with topics to stream, for the SSE stage specs.</summary>
internal sealed class SseGraphFixture : IAsyncDisposable
{
    /// <summary>The specs' actor system configuration: the streams' dispatcher, and messages serialized as if remote.</summary>
    public static readonly string Config = SseStreams.DefaultConfig + "\nakka.actor.serialize-messages = on\n";

    private readonly ActorSystem _system;
    private long _position;

    public SseGraphFixture(int memoryWindow = 1024, params string[] topics)
    {
        Journal = Repl.Actors.Storage.Journal.Open(new JournalOptions { InMemory = true });
        _system = ActorSystem.Create("sse-fixture", "akka.loglevel = WARNING");
        Reader = _system.ActorOf(LogReader.Props(Registry, new TopicsOptions { MemoryWindow = memoryWindow }, Journal, replica: true));
        foreach (var topic in topics.Length == 0 ? ["a"] : topics) Apply(new LogEntry(++_position, LogEntryKind.CreateTopic, topic, [], 0));
    }

    public TopicRegistry Registry { get; } = new();

    public Repl.Actors.Storage.Journal Journal { get; }

    /// <summary>The log reader that applies what the specs publish.</summary>
    public IActorRef Reader { get; }

    public SseCounters Counters { get; } = new();

    public long Position => _position;

    public TopicHub Topic(string name) => Registry.TryGet(name, out var topic) ? topic : throw new KeyNotFoundException(name);

    /// <summary>Applies one batch: a message to each of <paramref name="topics"/>, in turn, <paramref name="count"/> times. Returns its last position.</summary>
    public long Publish(int count, params string[] topics)
    {
        var batch = new List<LogEntry>();
        for (int i = 0; i < count; i++)
        {
            foreach (var topic in topics)
            {
                long position = ++_position;
                batch.Add(new LogEntry(position, LogEntryKind.Publish, topic,
                    MessageJson.WithId(position, MessageJson.EncodeBody(topic, "v" + position, [], DateTimeOffset.UnixEpoch)), 0));
            }
        }
        return Apply([.. batch]);
    }

    /// <summary>Applies one batch of <paramref name="count"/> messages to <paramref name="topic"/>, each value <paramref name="valueBytes"/> long. Returns its last position.</summary>
    public long PublishValues(int count, int valueBytes, string topic)
    {
        var batch = new LogEntry[count];
        for (int i = 0; i < count; i++)
        {
            long position = ++_position;
            batch[i] = new LogEntry(position, LogEntryKind.Publish, topic,
                MessageJson.WithId(position, MessageJson.EncodeBody(topic, new string('x', valueBytes), [], DateTimeOffset.UnixEpoch)), 0);
        }
        return Apply(batch);
    }

    public long Apply(params LogEntry[] entries)
    {
        Reader.Tell(new LogReaderProtocol.Apply(-1, entries));
        long last = entries[^1].Position;
        _position = Math.Max(_position, last);
        Registry.WaitAppliedAsync(last).Wait(TimeSpan.FromSeconds(10));
        return last;
    }

    public long Truncate(string topic) => Apply(new LogEntry(++_position, LogEntryKind.Truncate, topic, [], 0));

    public long Delete(string topic) => Apply(new LogEntry(++_position, LogEntryKind.DeleteTopic, topic, [], 0));

    /// <summary>A connection as the host makes one: its start is fixed now (the client's cursor, else the applied position).</summary>
    public SseConnection Connection(long? cursor = null, params string[] topics) => new()
    {
        Topics = [.. (topics.Length == 0 ? ["a"] : topics).Select(Topic)],
        Registry = Registry,
        Journal = Journal,
        Node = "n1",
        Cursor = cursor ?? Registry.AppliedPosition,
    };

    /// <summary>What a stream wrote, read back as events.</summary>
    public static List<SseEvent> Events(byte[] written)
    {
        var stream = new MemoryStream(written);
        return [.. System.Net.ServerSentEvents.SseParser.Create(stream).Enumerate()
            .Select(item => new SseEvent(item.EventType, item.EventId, item.Data, item.ReconnectionInterval is { } retry ? (int)retry.TotalMilliseconds : null))];
    }

    public static async Task<(Socket Server, Socket Client)> ConnectedPairAsync(int receiveBuffer = 0, int sendBuffer = 0)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (receiveBuffer > 0) client.ReceiveBufferSize = receiveBuffer;
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        if (sendBuffer > 0) server.SendBufferSize = sendBuffer;
        return (server, client);
    }

    public async ValueTask DisposeAsync()
    {
        await _system.Terminate();
        Journal.Dispose();
    }
}
