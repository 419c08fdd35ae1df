namespace Repl.Actors.Sharding;

/// <summary>
/// A topic entity's clients, across the cluster: per node the set that node reported and how far its numbering went,
/// all of them ordered by client id for paging, and how many clients each user has.
/// </summary>
/// <remarks>Not thread-safe: the entity's own state. Never persisted (see <see cref="PresenceProtocol"/>).</remarks>
internal sealed class TopicPresence
{
    /// <summary>What became of a node's message.</summary>
    public enum Outcome
    {
        /// <summary>Applied (or already seen, and dropped).</summary>
        Applied,

        /// <summary>It does not follow what the entity holds of that node: ask the node for its full set.</summary>
        Gap,
    }

    private sealed class NodeClients(long incarnation)
    {
        public readonly long Incarnation = incarnation;
        public readonly Dictionary<string, PresenceProtocol.Client> Clients = new(StringComparer.Ordinal);
        public long Seq;
    }

    private static readonly IComparer<PresenceProtocol.Client> ById =
        Comparer<PresenceProtocol.Client>.Create((a, b) => string.CompareOrdinal(a.Id, b.Id));

    private readonly Dictionary<string, NodeClients> _nodes = new(StringComparer.Ordinal);
    private readonly SortedSet<PresenceProtocol.Client> _all = new(ById);
    private readonly Dictionary<string, int> _users = new(StringComparer.Ordinal);

    /// <summary>How many clients the topic has.</summary>
    public int Count => _all.Count;

    /// <summary>How many distinct users they are (clients without a user not counted).</summary>
    public int Users => _users.Count;

    /// <summary>Where joins and leaves go to be told to watching nodes; null while no node watches (nothing is kept).</summary>
    public PresenceChanges? Changes { get; set; }

    /// <summary>Whether <paramref name="user"/> has a client here.</summary>
    public bool HasUser(string user) => _users.ContainsKey(user);

    /// <summary>How far the entity has applied <paramref name="from"/>'s numbering (0: nothing of that incarnation).</summary>
    public long SeqOf(PresenceProtocol.Origin from) =>
        _nodes.TryGetValue(from.Address, out var node) && node.Incarnation == from.Incarnation ? node.Seq : 0;

    public Outcome Apply(PresenceProtocol.Deltas deltas)
    {
        var node = Node(deltas.From, out bool known);
        // Sequence 1 starts from empty: the node (or this incarnation of it) had no client here before it.
        if (deltas.Seq == 1)
        {
            Clear(node);
        }
        else if (!known || deltas.Seq > node.Seq + 1)
        {
            return Outcome.Gap;
        }
        else if (deltas.Seq <= node.Seq)
        {
            return Outcome.Applied; // seen already (a delta overtaken by a full set)
        }
        node.Seq = deltas.Seq;
        foreach (var leave in deltas.Leaves)
        {
            if (node.Clients.Remove(leave, out var gone)) Removed(gone);
        }
        foreach (var join in deltas.Joins)
        {
            if (node.Clients.Remove(join.Id, out var before)) Removed(before);
            node.Clients[join.Id] = join;
            Added(join);
        }
        Forget(deltas.From.Address, node);
        return Outcome.Applied;
    }

    public void Replace(PresenceProtocol.Full full)
    {
        var node = Node(full.From, out bool known);
        // An older full set overtaken by deltas after it changes nothing (0: the node holds nothing, always taken).
        if (known && full.Seq != 0 && full.Seq < node.Seq) return;
        Clear(node);
        node.Seq = full.Seq;
        foreach (var client in full.Clients)
        {
            node.Clients[client.Id] = client;
            Added(client);
        }
        Forget(full.From.Address, node);
    }

    /// <summary>A heartbeat is a gap when the entity is not where the node is.</summary>
    public Outcome Check(PresenceProtocol.Heartbeat heartbeat) =>
        _nodes.TryGetValue(heartbeat.From.Address, out var node) && node.Incarnation == heartbeat.From.Incarnation && node.Seq == heartbeat.Seq
            ? Outcome.Applied
            : Outcome.Gap;

    /// <summary>Drops the clients of a node removed from the cluster (only of that incarnation: one that came back under the same address keeps its own).</summary>
    public void DropNode(string address, long incarnation)
    {
        if (!_nodes.TryGetValue(address, out var node) || node.Incarnation != incarnation) return;
        Clear(node);
        _nodes.Remove(address);
    }

    /// <summary>Up to <paramref name="limit"/> clients after <paramref name="after"/> (all from the first when null), by client id.</summary>
    public PresenceProtocol.Client[] Page(string? after, int limit)
    {
        IEnumerable<PresenceProtocol.Client> from = _all;
        if (after is not null && _all.Count > 0)
        {
            // A view from the cursor on: O(log n) to find, whatever page it is.
            var probe = new PresenceProtocol.Client(after, null, "", 0);
            if (string.CompareOrdinal(after, _all.Max!.Id) >= 0) return [];
            from = _all.GetViewBetween(probe, _all.Max!).Where(client => !string.Equals(client.Id, after, StringComparison.Ordinal));
        }
        return [.. from.Take(limit)];
    }

    private NodeClients Node(PresenceProtocol.Origin from, out bool known)
    {
        known = _nodes.TryGetValue(from.Address, out var node) && node.Incarnation == from.Incarnation;
        if (known) return node!;
        // Another incarnation under the same address: the one before is gone, and its clients with it.
        if (node is not null) Clear(node);
        return _nodes[from.Address] = new NodeClients(from.Incarnation);
    }

    private void Forget(string address, NodeClients node)
    {
        // A node with no client here is not kept; its next delta is numbered 1 again (see PresenceReporter).
        if (node.Clients.Count == 0 && node.Seq == 0) _nodes.Remove(address);
    }

    private void Clear(NodeClients node)
    {
        foreach (var client in node.Clients.Values) Removed(client);
        node.Clients.Clear();
    }

    private void Added(PresenceProtocol.Client client)
    {
        _all.Add(client);
        Changes?.Joined(client);
        if (client.User is { } user) _users[user] = _users.GetValueOrDefault(user) + 1;
    }

    private void Removed(PresenceProtocol.Client client)
    {
        _all.Remove(client);
        Changes?.Left(client);
        if (client.User is not { } user) return;
        if (_users[user] == 1) _users.Remove(user);
        else _users[user]--;
    }
}
