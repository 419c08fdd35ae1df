using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.Options;
using Repl.Actors.Log;
using Repl.Actors.Sharding;
using Repl.Actors.Topics;

namespace Repl.Host.Node;

/// <summary>
/// Presence as the routes see it: which topics have it on, this node's streams told to its reporter
/// (<see cref="PresenceReporter"/>) as they open and end, and the topics' entities asked for their clients.
/// </summary>
/// <remarks>With presence off for all of a stream's topics, a stream costs one flag check per topic (<see cref="On"/>) and nothing else.</remarks>
public sealed class NodePresence
{
    private readonly ActorRegistry _actors;
    private readonly TopicsOptions _topics;
    private readonly string _node;
    private readonly TimeProvider _time;
    private IActorRef? _reporter;

    /// <summary>How long a presence query waits for its entity: a freshly started one first pulls every broker's set.</summary>
    internal static readonly TimeSpan AskTimeout = PresenceProtocol.PullWait + TimeSpan.FromSeconds(2);

    public NodePresence(ActorRegistry actors, TopicsOptions topics, IOptions<NodeOptions> node, TimeProvider time)
    {
        _actors = actors;
        _topics = topics;
        _node = node.Value.Id;
        _time = time;
    }

    /// <summary>Whether <paramref name="topic"/> tracks its clients: its own <c>presence</c> setting (<c>PATCH /topics/{name}</c>), else the node's <c>Topics:Presence</c>.</summary>
    /// <remarks>The one place that decides it.</remarks>
    public bool IsOn(TopicHub topic) => topic.Settings.Presence ?? _topics.Presence;

    /// <summary>The names of those of <paramref name="topics"/> with presence on, or null when none has it (the usual case: nothing else is done).</summary>
    public string[]? On(IReadOnlyList<TopicHub> topics)
    {
        List<string>? on = null;
        foreach (var topic in topics)
        {
            if (IsOn(topic)) (on ??= []).Add(topic.Name);
        }
        return on is null ? null : [.. on];
    }

    /// <summary>A stream opened: it joins <paramref name="topics"/> (from <see cref="On"/>).</summary>
    /// <param name="watching">Opened with <c>?presence=1</c>: the topics' entities tell this node their joins and leaves.</param>
    public void Join(string client, string? user, string[] topics, bool watching) =>
        Reporter()?.Tell(new PresenceProtocol.Join(new PresenceProtocol.Client(client, user, _node, _time.GetUtcNow().ToUnixTimeMilliseconds()), topics, watching));

    /// <summary>The stream ended: it leaves the topics it joined.</summary>
    public void Leave(string client, string[] topics, bool watching) => Reporter()?.Tell(new PresenceProtocol.Leave(client, topics, watching));

    /// <summary>A page of the topic's clients, cluster-wide, ordered by client id.</summary>
    /// <exception cref="LogUnavailableException">The topic's entity did not answer in time.</exception>
    public Task<PresenceProtocol.Page> ListAsync(string topic, string? after, int limit) =>
        AskAsync<PresenceProtocol.Page>(new PresenceProtocol.List(topic, after, limit));

    /// <summary>The topic's client and user counts, cluster-wide.</summary>
    /// <exception cref="LogUnavailableException">The topic's entity did not answer in time.</exception>
    public Task<PresenceProtocol.Counts> StatsAsync(string topic) => AskAsync<PresenceProtocol.Counts>(new PresenceProtocol.Stats(topic));

    private async Task<T> AskAsync<T>(TopicProtocol.ICommand query)
    {
        if (!_actors.TryGet<TopicProtocol.Key>(out var topics)) throw new LogUnavailableException("this node is still starting");
        try
        {
            return await topics.Ask<T>(query, AskTimeout);
        }
        catch (AskTimeoutException)
        {
            throw new LogUnavailableException($"the topic's entity did not answer within {AskTimeout.TotalSeconds:0} s (a rebalance or a node leaving?); try again");
        }
    }

    private IActorRef? Reporter()
    {
        if (_reporter is null && _actors.TryGet<PresenceProtocol.ReporterKey>(out var reporter)) _reporter = reporter;
        return _reporter;
    }
}
