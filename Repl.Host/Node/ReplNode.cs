using Akka.Actor;
using Akka.Hosting;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Sequencer;
using Repl.Actors.Sharding;
using Repl.Actors.Storage;
using Repl.Actors.Topics;

namespace Repl.Host.Node;

/// <summary>
/// The engine as the HTTP layer writes to it: publishes go to the node's batcher, topic changes to the topics' sharded
/// entities, a retention round to its owner; and the one read that needs the log's head. Everything else the routes
/// read they take from the container themselves: the <see cref="TopicRegistry"/>, the <see cref="Journal"/>, the options.
/// </summary>
/// <remarks>
/// The actors run in the actor system that Akka.Hosting starts; <see cref="NodeStart"/> waits for them, and until they
/// are registered a topic change is answered "log unavailable: this node is still starting".
/// </remarks>
public sealed class ReplNode
{
    /// <summary>The internal topic of the readiness probe's publish; created at start.</summary>
    public const string CanaryTopic = "$canary";

    /// <summary>What a caller whose topic change has an unknown outcome can do, said with the error.</summary>
    private const string TopicChangeRetryAdvice = ". Retrying is safe: a create that did commit answers 409, a delete 404, a settings change sets the same again";

    private readonly PublishQueue _publishes;
    private readonly ActorRegistry _actors;
    private readonly TopicRegistry _registry;
    private readonly Journal _journal;
    private readonly EtcdLog? _etcdLog;
    private readonly TimeSpan _askTimeout;

    /// <param name="etcdLog">Cluster mode only: the log, whose head says whether a position was ever issued.</param>
    public ReplNode(PublishQueue publishes, ActorRegistry actors, TopicRegistry registry, Journal journal, IOptions<SequencerOptions> sequencer, EtcdLog? etcdLog = null)
    {
        _publishes = publishes;
        _actors = actors;
        _registry = registry;
        _journal = journal;
        _etcdLog = etcdLog;
        _askTimeout = sequencer.Value.Deadline + TimeSpan.FromSeconds(1);
    }

    /// <summary>
    /// Publishes as one batch; completes with each command's position (0 where the topic did not exist), and which
    /// commands were retries of a key committed before, once the batch is committed and applied on this node.
    /// </summary>
    /// <exception cref="LogUnavailableException">Nothing of it was committed.</exception>
    /// <exception cref="OutcomeUnknownException">Its write's answer was lost: all of it may have been committed, or none.</exception>
    public Task<Commit> PublishAsync(PublishCommand[] commands) => _publishes.PublishAsync(commands);

    /// <summary>
    /// Publishes one message to several topics (one command each) as one write, all or nothing: every position is 0
    /// when one of the topics did not exist at the cut, and then nothing was committed.
    /// </summary>
    /// <exception cref="LogUnavailableException">Nothing of it was committed.</exception>
    /// <exception cref="OutcomeUnknownException">Its write's answer was lost: all of it may have been committed, or none.</exception>
    public Task<Commit> BroadcastAsync(PublishCommand[] commands) => _publishes.PublishAsync(commands, whole: true);

    /// <summary>
    /// Ends every stream of <paramref name="user"/> on every broker, each after <c>event: disconnect</c> with
    /// <paramref name="reason"/>, and has every broker refuse the user's new streams until <paramref name="untilMs"/> (Unix ms).
    /// </summary>
    public Task<StreamsReached> DisconnectAsync(string user, string reason, long untilMs) =>
        EverywhereAsync(new Repl.Actors.ServerApi.ServerApiProtocol.Disconnect(user, reason, untilMs));

    /// <summary>Takes the stream <paramref name="client"/> off <paramref name="topic"/>, on whichever broker holds it.</summary>
    public Task<StreamsReached> UnsubscribeAsync(string client, string topic) =>
        EverywhereAsync(new Repl.Actors.ServerApi.ServerApiProtocol.Unsubscribe(client, topic));

    private Task<StreamsReached> EverywhereAsync(object message)
    {
        if (!_actors.TryGet<Repl.Actors.ServerApi.ServerApiProtocol.Key>(out var local)) throw new LogUnavailableException("this node is still starting");
        // The local actor asks every broker, within its answer timeout; this ask only bounds that.
        return local.Ask<StreamsReached>(new ServerApiActor.Everywhere(message), ServerApiActor.AnswerTimeout + TimeSpan.FromSeconds(1));
    }

    /// <summary>Creates a topic through its entity; returns the position of the creation once applied here, 0 when it exists.</summary>
    public Task<long> CreateTopicAsync(string name) => ChangeTopicAsync(new TopicProtocol.Create(name));

    /// <summary>Deletes a topic through its entity; returns the position of the deletion once applied here, 0 when there was none.</summary>
    public Task<long> DeleteTopicAsync(string name) => ChangeTopicAsync(new TopicProtocol.Delete(name));

    /// <summary>
    /// Changes a topic's own settings through its entity (the <paramref name="fields"/> named take their value from
    /// <paramref name="settings"/>); returns the position of the change once applied here, 0 when there is no such topic.
    /// </summary>
    public Task<long> ConfigureTopicAsync(string name, TopicSettings settings, TopicSettingsFields fields) =>
        ChangeTopicAsync(new TopicProtocol.Configure(name, settings, fields));

    /// <summary>
    /// Runs a retention round now, wherever its owner runs (<see cref="RetentionActor"/>, which also runs one every
    /// <see cref="NodeOptions.RetentionInterval"/>); completes once the topics over their limits are trimmed and that is
    /// applied here.
    /// </summary>
    public async Task ApplyRetentionAsync()
    {
        if (!_actors.TryGet<RetentionProtocol.Key>(out var owner)) throw new LogUnavailableException("this node is still starting");
        // A round waits for each told entity's answer, up to the ask timeout; the owner's query comes before.
        var ran = await owner.Ask<RetentionProtocol.Ran>(RetentionProtocol.Run.Instance, _askTimeout * 2);
        await _registry.WaitAppliedAsync(ran.Position);
    }

    /// <summary>
    /// Whether <paramref name="position"/> is past the head of the log: never issued by it. Standalone the journal's last
    /// position is the head; in cluster mode a position past this node's watermark may just not be applied here yet,
    /// so etcd's head decides (when etcd cannot be asked, the position is given the benefit of the doubt).
    /// </summary>
    public async Task<bool> IsAheadOfLogAsync(long position, CancellationToken cancellationToken)
    {
        if (position <= _registry.AppliedPosition) return false;
        if (_etcdLog is null) return position > _journal.LastPosition;
        try
        {
            return position > await _etcdLog.HeadAsync(cancellationToken);
        }
        catch (RpcException)
        {
            return false;
        }
    }

    private async Task<long> ChangeTopicAsync(TopicProtocol.ICommand command)
    {
        if (!_actors.TryGet<TopicProtocol.Key>(out var topics)) throw new LogUnavailableException("this node is still starting");
        object answer;
        try
        {
            answer = await topics.Ask(command, _askTimeout);
        }
        catch (AskTimeoutException)
        {
            // It may still be queued at the sequencer, or its write's answer was lost: it may commit yet.
            throw new OutcomeUnknownException($"the topic change was not answered within {_askTimeout.TotalSeconds:0} s, so its outcome is unknown (it may have been committed)"
                + TopicChangeRetryAdvice);
        }
        switch (answer)
        {
            case SequencerProtocol.TopicChanged changed:
                await _registry.WaitAppliedAsync(changed.Position);
                return changed.Position;
            case SequencerProtocol.Rejected rejected:
                throw new LogUnavailableException(rejected.Reason);
            case SequencerProtocol.OutcomeUnknown unknown:
                throw new OutcomeUnknownException(unknown.Reason + TopicChangeRetryAdvice);
            default:
                throw new InvalidOperationException($"unexpected answer {answer}");
        }
    }
}
