using Akka.Actor;
using Akka.Cluster;

namespace Repl.Actors.Sharding;

/// <summary>Presence: the topic's clients across the cluster (<see cref="PresenceProtocol"/>).</summary>
/// <remarks>
/// <para>Started by the first presence message an entity gets, not by create, delete or retention: only then does it
/// pull every broker's set and follow the cluster's removals. A query that arrives while the pull is under way waits
/// for it (at most <see cref="PresenceProtocol.PullWait"/>), so a freshly started entity does not answer "nobody".</para>
/// <para>An entity with clients keeps getting heartbeats, so it does not passivate; one with none is idle and passivates
/// as before, and its next start pulls again.</para>
/// </remarks>
internal sealed partial class TopicEntity
{
    private sealed class PullTimeout
    {
        public static readonly PullTimeout Instance = new();
    }

    private TopicPresence? _presence;
    private HashSet<string>? _pulling;
    private List<(IActorRef Asker, object Query)>? _waiting;

    public ITimerScheduler Timers { get; set; } = null!;

    private void ReceivePresence()
    {
        Receive<PresenceProtocol.Deltas>(deltas =>
        {
            var presence = Presence();
            Watch(deltas.From, deltas.Watching);
            if (presence.Apply(deltas) == TopicPresence.Outcome.Gap) Sender.Tell(new PresenceProtocol.Resend(_topic));
            Changed();
        });
        Receive<PresenceProtocol.Heartbeat>(heartbeat =>
        {
            var presence = Presence();
            Watch(heartbeat.From, heartbeat.Watching);
            if (presence.Check(heartbeat) == TopicPresence.Outcome.Gap) Sender.Tell(new PresenceProtocol.Resend(_topic));
        });
        Receive<PresenceProtocol.Full>(full =>
        {
            var presence = Presence();
            Watch(full.From, full.Watching);
            presence.Replace(full);
            Pulled(full.From.Address);
            Changed();
        });
        Receive<TellTick>(_ => TellWatchers());
        Receive<PresenceProtocol.List>(list => AnswerOrWait(list));
        Receive<PresenceProtocol.Stats>(stats => AnswerOrWait(stats));
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            string address = removed.Member.Address.ToString();
            _presence?.DropNode(address, removed.Member.UniqueAddress.Uid);
            Unwatch(address, removed.Member.UniqueAddress.Uid);
            Pulled(address);
            Changed();
        });
        Receive<PullTimeout>(_ =>
        {
            _pulling = null;
            PullDone();
        });
    }

    protected override void PostStop()
    {
        if (_presence is not null) Cluster.Get(Context.System).Unsubscribe(Self);
        base.PostStop();
    }

    /// <summary>The entity's presence state, started on first use: follow removals, then pull every broker's set.</summary>
    private TopicPresence Presence()
    {
        if (_presence is not null) return _presence;
        _presence = new TopicPresence();
        var cluster = Cluster.Get(Context.System);
        // Removals only (no initial state): the members now are read below.
        cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));
        _pulling = [];
        foreach (var member in cluster.State.Members)
        {
            if (member.Status is not (MemberStatus.Up or MemberStatus.WeaklyUp) || !member.HasRole("broker")) continue;
            _pulling.Add(member.Address.ToString());
            Context.ActorSelection(new RootActorPath(member.Address) / "user" / PresenceProtocol.ReporterName).Tell(new PresenceProtocol.Resend(_topic), Self);
        }
        if (_pulling.Count > 0) Timers.StartSingleTimer(PullTimeout.Instance, PullTimeout.Instance, PresenceProtocol.PullWait);
        else _pulling = null;
        return _presence;
    }

    private void Pulled(string address)
    {
        if (_pulling is null || !_pulling.Remove(address) || _pulling.Count > 0) return;
        _pulling = null;
        Timers.Cancel(PullTimeout.Instance);
        PullDone();
    }

    private void PullDone()
    {
        AnswerWaiting();
        // What the pull brought is where the watchers' counts start, not news (TopicEntity.PresenceEvents.cs).
        StartTelling();
    }

    private void AnswerOrWait(object query)
    {
        var presence = Presence();
        if (_pulling is not null)
        {
            (_waiting ??= []).Add((Sender, query));
            return;
        }
        Sender.Tell(Answer(presence, query));
    }

    private void AnswerWaiting()
    {
        if (_waiting is null) return;
        foreach (var (asker, query) in _waiting) asker.Tell(Answer(_presence!, query));
        _waiting = null;
    }

    private static object Answer(TopicPresence presence, object query) => query switch
    {
        PresenceProtocol.List list => new PresenceProtocol.Page(presence.Page(list.After, Math.Max(1, list.Limit)), presence.Count),
        _ => new PresenceProtocol.Counts(presence.Count, presence.Users),
    };
}
