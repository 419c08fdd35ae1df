namespace Repl.Actors.Sharding;

/// <summary>
/// What a topic entity has not yet told the nodes that watch it (<see cref="PresenceProtocol.Events"/>): joins since the
/// last batch, and leaves held for their grace.
/// </summary>
/// <remarks>
/// <para><b>Grace.</b> A leave is told only after <see cref="PresenceProtocol.EventOptions.Grace"/>: a client of the same
/// (non-null) user that joins meanwhile takes its place, and neither is told — the user never left, and the new client's
/// id is not announced (its own leave is told when it goes). A client that comes back under its own id (a node's full
/// set replacing what the entity held) was never gone. Anonymous clients have no one to take their place: their leave
/// is told after the grace, a join at once.</para>
/// <para><b>Counts as told.</b> The counts a batch carries agree with the events: a client whose leave is held still
/// counts, so a stream that adds joins and subtracts leaves from a counts event stays right. The routes' counts are
/// exact and not delayed.</para>
/// <para>Fed by <see cref="TopicPresence"/> only while a node watches; transient: joins live until the next batch,
/// leaves for the grace.</para>
/// </remarks>
internal sealed class PresenceChanges(TimeSpan grace, TimeProvider time)
{
    private sealed record Held(PresenceProtocol.Client Client, long DueMs);

    private readonly long _graceMs = (long)grace.TotalMilliseconds;
    private readonly Dictionary<string, PresenceProtocol.Client> _joins = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Held> _held = new(StringComparer.Ordinal);
    // Per user, its held leaves, oldest first: a same-user join takes the oldest.
    private readonly Dictionary<string, List<Held>> _heldByUser = new(StringComparer.Ordinal);

    /// <summary>Clients whose leave is held: they still count as told.</summary>
    public int HeldCount => _held.Count;

    /// <summary>Whether a batch would have anything to tell, now or once a grace ends.</summary>
    public bool IsEmpty => _joins.Count == 0 && _held.Count == 0;

    public void Joined(PresenceProtocol.Client client)
    {
        if (_held.Remove(client.Id, out var same))
        {
            Unheld(same);
            return;
        }
        if (client.User is { } user && _heldByUser.TryGetValue(user, out var leaves))
        {
            // A reconnect of the same user within the grace: the held leave and this join cancel out.
            var oldest = leaves[0];
            _held.Remove(oldest.Client.Id);
            Unheld(oldest);
            return;
        }
        _joins[client.Id] = client;
    }

    public void Left(PresenceProtocol.Client client)
    {
        // A join not told yet is simply not told.
        if (_joins.Remove(client.Id)) return;
        var held = new Held(client, NowMs + _graceMs);
        _held[client.Id] = held;
        if (client.User is { } user)
        {
            if (!_heldByUser.TryGetValue(user, out var leaves)) _heldByUser[user] = leaves = [];
            leaves.Add(held);
        }
    }

    /// <summary>Takes the joins, then the leaves whose grace has ended, as one batch's changes.</summary>
    public PresenceProtocol.Change[] Take()
    {
        long nowMs = NowMs;
        List<PresenceProtocol.Change>? changes = null;
        foreach (var join in _joins.Values) (changes ??= []).Add(new PresenceProtocol.Change(true, join.Id, join.User));
        _joins.Clear();
        List<Held>? due = null;
        foreach (var held in _held.Values)
        {
            if (held.DueMs <= nowMs) (due ??= []).Add(held);
        }
        if (due is not null)
        {
            due.Sort(static (a, b) => a.DueMs.CompareTo(b.DueMs));
            foreach (var held in due)
            {
                _held.Remove(held.Client.Id);
                Unheld(held);
                (changes ??= []).Add(new PresenceProtocol.Change(false, held.Client.Id, held.Client.User));
            }
        }
        return changes is null ? [] : [.. changes];
    }

    /// <summary>Users told as present: the exact ones (<paramref name="presence"/>) and those of held leaves who have no other client.</summary>
    public int Users(TopicPresence presence)
    {
        int users = presence.Users;
        foreach (var user in _heldByUser.Keys)
        {
            if (!presence.HasUser(user)) users++;
        }
        return users;
    }

    /// <summary>Forgets everything: what the entity holds now is where the next counts start from.</summary>
    public void Clear()
    {
        _joins.Clear();
        _held.Clear();
        _heldByUser.Clear();
    }

    private long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    private void Unheld(Held held)
    {
        if (held.Client.User is not { } user || !_heldByUser.TryGetValue(user, out var leaves)) return;
        leaves.Remove(held);
        if (leaves.Count == 0) _heldByUser.Remove(user);
    }
}
