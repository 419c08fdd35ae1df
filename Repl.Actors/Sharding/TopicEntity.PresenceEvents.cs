using Akka.Actor;

namespace Repl.Actors.Sharding;

/// <summary>Presence events: the topic's joins and leaves told to the nodes that have <c>?presence=1</c> streams on it.</summary>
/// <remarks>
/// <para><b>Why here.</b> The entity is the one place that sees every node's joins and leaves, so the grace and the
/// coalescing are decided once, and every node tells its streams the same story (a reconnect of a user within the grace
/// is silent everywhere, or nowhere). A node says it watches in its deltas and heartbeats; it is dropped when it says it
/// no longer does, or leaves the cluster.</para>
/// <para><b>Batches.</b> Every <see cref="PresenceProtocol.EventOptions.Flush"/> while there is something to tell, one
/// <see cref="PresenceProtocol.Events"/> to each watcher (the same changes for all; one sender to one receiver, so a
/// node gets a topic's batches in order). A new watcher's first batch is the counts alone: it starts from them. Above
/// <see cref="PresenceProtocol.EventOptions.UpTo"/> clients, counts instead of changes, at most once a second and only
/// when they changed; back under it, the counts once more, then changes again.</para>
/// <para><b>A start.</b> What the pull of a starting entity brings is not news: its watchers get the counts, then the
/// changes after them.</para>
/// </remarks>
internal sealed partial class TopicEntity
{
    private sealed class TellTick
    {
        public static readonly TellTick Instance = new();
    }

    /// <summary>A node with <c>?presence=1</c> streams on the topic.</summary>
    private sealed class Watcher(IActorRef reporter, PresenceProtocol.Origin origin)
    {
        public IActorRef Reporter = reporter;
        public readonly PresenceProtocol.Origin Origin = origin;

        /// <summary>Told nothing yet: its first batch is the counts.</summary>
        public bool Fresh = true;

        /// <summary>The <see cref="PresenceProtocol.Events.Applied"/> its last batch carried.</summary>
        public long Applied;
    }

    private Dictionary<string, Watcher>? _watchers;
    // Above UpTo (or not yet back under it with its counts told): counts instead of changes.
    private bool _coalesced;
    // The counts the watchers hold: of the last batch, or of the last counts event.
    private (int Clients, int Users) _countsTold = (-1, -1);
    private long _countsToldMs = long.MinValue / 2;

    private void Watch(PresenceProtocol.Origin from, bool watching)
    {
        Watcher? watcher = null;
        _watchers?.TryGetValue(from.Address, out watcher);
        if (watching)
        {
            _watchers ??= new Dictionary<string, Watcher>(StringComparer.Ordinal);
            if (watcher is null || watcher.Origin.Incarnation != from.Incarnation) _watchers[from.Address] = new Watcher(Sender, from);
            else watcher.Reporter = Sender;
            StartTelling();
            return;
        }
        if (watcher is not null) Unwatch(from.Address, from.Incarnation);
    }

    /// <summary>A node that no longer watches (or left the cluster) is told nothing more; with none left, nothing is kept.</summary>
    private void Unwatch(string address, long incarnation)
    {
        if (_watchers is null || !_watchers.TryGetValue(address, out var watcher) || watcher.Origin.Incarnation != incarnation) return;
        _watchers.Remove(address);
        if (_watchers.Count > 0 || _presence is null) return;
        _presence.Changes = null;
        _coalesced = false;
        _countsTold = (-1, -1);
    }

    /// <summary>Starts keeping changes once a node watches and the pull (if any) is over.</summary>
    private void StartTelling()
    {
        if (_pulling is not null || _presence is null || _watchers is not { Count: > 0 }) return;
        _presence.Changes ??= new PresenceChanges(_events.Grace, _time);
        ScheduleTell();
    }

    private void Changed()
    {
        if (_presence?.Changes is not null) ScheduleTell();
    }

    private void ScheduleTell()
    {
        if (!Timers.IsTimerActive(TellTick.Instance)) Timers.StartSingleTimer(TellTick.Instance, TellTick.Instance, _events.Flush);
    }

    private void TellWatchers()
    {
        if (_presence is not { Changes: { } changes } presence || _watchers is not { Count: > 0 }) return;
        var told = changes.Take();
        int clients = presence.Count + changes.HeldCount;
        int users = changes.Users(presence);
        bool over = clients > _events.UpTo;
        bool tellCounts = false, again = false;
        if (over || _coalesced)
        {
            told = [];
            long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            if ((clients, users) == _countsTold)
            {
                _coalesced = over;
            }
            else if (now - _countsToldMs >= (long)PresenceProtocol.CountsEvery.TotalMilliseconds)
            {
                tellCounts = true;
                _countsToldMs = now;
                _coalesced = over;
            }
            else
            {
                again = true;
            }
        }
        foreach (var watcher in _watchers.Values)
        {
            long applied = presence.SeqOf(watcher.Origin);
            if (watcher.Fresh)
            {
                watcher.Fresh = false;
                watcher.Reporter.Tell(new PresenceProtocol.Events(_topic, applied, [], clients, users, TellCounts: true), Self);
            }
            else if (told.Length > 0 || tellCounts || applied != watcher.Applied)
            {
                watcher.Reporter.Tell(new PresenceProtocol.Events(_topic, applied, told, clients, users, tellCounts), Self);
            }
            watcher.Applied = applied;
        }
        if (!again) _countsTold = (clients, users);
        if (again || !changes.IsEmpty) ScheduleTell();
    }
}
