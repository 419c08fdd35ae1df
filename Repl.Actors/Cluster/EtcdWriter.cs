using Akka.Actor;
using Repl.Actors.Log;
using Repl.Actors.Sequencer;

namespace Repl.Actors.Cluster;

/// <summary>
/// Cluster mode's writer of the log, until the sequencer's journal moves onto etcd: the node's batches go straight to
/// etcd as transactions (<see cref="EtcdLog"/>), ordered by etcd's Raft leader. It speaks the sequencer's protocol, so
/// the node's batcher and topic entities do not know which writer they have.
/// </summary>
/// <remarks>
/// <para>Up to <see cref="Settings.MaxInFlight"/> appends at once (etcd commits concurrent transactions with one disk
/// sync); batches that arrive meanwhile wait here and go together. Positions come from etcd's revisions.</para>
/// <para>A truncate is this node's replica retention: the replica is the node's own (etcd's window is compacted by the
/// compaction duty), so it goes to the node's log reader, the replica's one writer, and nowhere else.</para>
/// </remarks>
public sealed class EtcdWriter : ReceiveActor
{
    private readonly EtcdLog _log;
    private readonly Settings _settings;
    private readonly IActorRef _reader;
    private readonly Queue<(IActorRef ReplyTo, SequencerProtocol.Publish Publish)> _waiting = new();
    private int _inFlight;

    public EtcdWriter(EtcdLog log, Settings settings, IActorRef reader)
    {
        _log = log;
        _settings = settings;
        _reader = reader;
        Receive<SequencerProtocol.Publish>(publish =>
        {
            _waiting.Enqueue((Sender, publish));
            Append();
        });
        Receive<Appended>(appended =>
        {
            _inFlight--;
            foreach (var (replyTo, reply) in appended.Replies) replyTo.Tell(reply);
            Append();
        });
        Receive<SequencerProtocol.ChangeTopic>(change =>
        {
            if (change.Kind == LogEntryKind.Truncate)
            {
                _reader.Tell(new LogReaderProtocol.TrimReplica(change.Topic, change.Through));
                Sender.Tell(new SequencerProtocol.TopicChanged(change.Topic, 0));
                return;
            }
            var task = change.Kind == LogEntryKind.CreateTopic
                ? _log.CreateTopicAsync(change.Topic, CancellationToken.None)
                : _log.DeleteTopicAsync(change.Topic, CancellationToken.None);
            task.AsTask().PipeTo(Sender, success: position => new SequencerProtocol.TopicChanged(change.Topic, position),
                failure: error => new SequencerProtocol.Rejected(0, error.Message));
        });
    }

    public static Props Props(EtcdLog log, Settings settings, IActorRef reader) => Akka.Actor.Props.Create(() => new EtcdWriter(log, settings, reader));

    private void Append()
    {
        while (_inFlight < _settings.MaxInFlight && _waiting.Count > 0)
        {
            var batch = new List<(IActorRef ReplyTo, SequencerProtocol.Publish Publish)>();
            var commands = new List<PublishCommand>();
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var replies = new List<(IActorRef, object)>();
            while (_waiting.Count > 0 && commands.Count < _settings.MaxBatch)
            {
                var (replyTo, publish) = _waiting.Dequeue();
                if (publish.DeadlineMs < now)
                {
                    replies.Add((replyTo, new SequencerProtocol.Rejected(publish.BatchId, "the publish waited past its deadline and was not committed")));
                    continue;
                }
                batch.Add((replyTo, publish));
                commands.AddRange(publish.Commands);
            }
            _inFlight++;
            AppendAsync(batch, commands, replies).PipeTo(Self);
        }
    }

    private async Task<Appended> AppendAsync(List<(IActorRef ReplyTo, SequencerProtocol.Publish Publish)> batch, List<PublishCommand> commands, List<(IActorRef, object)> replies)
    {
        if (commands.Count == 0) return new Appended(replies);
        try
        {
            long[] positions = await _log.AppendAsync(commands, CancellationToken.None).ConfigureAwait(false);
            int offset = 0;
            foreach (var (replyTo, publish) in batch)
            {
                replies.Add((replyTo, new SequencerProtocol.Committed(publish.BatchId, positions[offset..(offset + publish.Commands.Length)])));
                offset += publish.Commands.Length;
            }
        }
        catch (Exception error)
        {
            foreach (var (replyTo, publish) in batch) replies.Add((replyTo, new SequencerProtocol.Rejected(publish.BatchId, error.Message)));
        }
        return new Appended(replies);
    }

    /// <param name="MaxInFlight">Appends at once (<c>Cluster:MaxInFlightAppends</c>).</param>
    public sealed record Settings(int MaxBatch, int MaxInFlight);

    private sealed record Appended(List<(IActorRef ReplyTo, object Reply)> Replies) : INoSerializationVerificationNeeded;
}
