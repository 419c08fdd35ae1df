using System.Net;
using System.Text.Json;

namespace Repl.Cluster.Tests.Infrastructure;

/// <summary>
/// Three etcd members, two lighthouses (l1, l2) and three brokers (n1..n3) that join one Akka cluster through them,
/// shared by the tests of <see cref="ReplClusterCollection"/>, which run one after another. Each test uses its own
/// topics; a test that kills a process brings it back (or leaves it to <see cref="HealAsync"/>) before it ends.
/// </summary>
public sealed class ReplClusterFixture : IAsyncLifetime
{
    /// <summary>Faster reactions than production defaults, so failure tests stay short.</summary>
    public static readonly string[] NodeSettings =
    [
        "--Cluster:UnavailableAfter", "00:00:03",
        "--Cluster:LeaseTtl", "00:00:05",
        // Presence on for every topic: ClusterPresenceTests reads it across the brokers; the other tests' streams are tracked too.
        "--Topics:Presence", "true",
        // Leaves told to ?presence=1 streams after 1 s, not 5 (ClusterPresenceTests).
        "--Topics:PresenceLeaveGrace", "00:00:01",
    ];

    private EtcdCluster? _etcd;
    private ReplNodeProcess[] _nodes = [];
    private ReplNodeProcess[] _lighthouses = [];

    public EtcdCluster Etcd => _etcd ?? throw new InvalidOperationException("not started");

    /// <summary>The brokers.</summary>
    public IReadOnlyList<ReplNodeProcess> Nodes => _nodes;

    public IReadOnlyList<ReplNodeProcess> Lighthouses => _lighthouses;

    /// <summary>The lighthouses' addresses: every member's seeds.</summary>
    public IReadOnlyList<string> Seeds { get; private set; } = [];

    public async Task InitializeAsync()
    {
        int[] ports = [ReplNodeProcess.FreePort(), ReplNodeProcess.FreePort()];
        Seeds = [.. ports.Select(ReplNodeProcess.AkkaAddressOf)];
        var etcd = EtcdCluster.StartAsync(members: 3);
        // The first lighthouse forms the cluster (after seed-node-timeout when the second is not there yet); the other
        // members join it. Brokers may start meanwhile: they wait for a seed.
        var lighthouses = Task.WhenAll(ports.Select((port, i) => ReplNodeProcess.StartLighthouseAsync($"l{i + 1}", port, Seeds)));
        _etcd = await etcd;
        _nodes = await Task.WhenAll(Enumerable.Range(1, 3).Select(i => ReplNodeProcess.StartBrokerAsync($"n{i}", _etcd.ClientUrlList, Seeds, NodeSettings)));
        _lighthouses = await lighthouses;
        await WaitConvergedAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>Starts one more broker that joins through the seeds (the caller disposes it).</summary>
    public Task<ReplNodeProcess> StartBrokerAsync(string id) => ReplNodeProcess.StartBrokerAsync(id, Etcd.ClientUrlList, Seeds, NodeSettings);

    /// <summary>Restarts whatever a test left stopped and waits until every node is ready and the Akka cluster holds exactly the running processes, all Up.</summary>
    public async Task HealAsync()
    {
        var stopped = Enumerable.Range(0, Etcd.Members.Count).Where(i => !Etcd.Members[i].IsRunning).ToArray();
        if (stopped.Length > 0) await Etcd.RestartAsync(stopped);
        await Task.WhenAll(_lighthouses.Concat(_nodes).Select(node => node.IsRunning ? node.WaitReadyAsync(TimeSpan.FromSeconds(60)) : node.RestartAsync()));
        await WaitConvergedAsync(TimeSpan.FromSeconds(60));
        await WaitCommitsAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Waits until a topic change commits through the sequencer. After etcd lost its quorum the sequencer may still be
    /// recovering (its lease lost, its writes failed) when the nodes already answer ready; the next test starts after.
    /// </summary>
    private Task WaitCommitsAsync(TimeSpan timeout) => CreateTopicAsync(_nodes[0], "heal-" + Guid.NewGuid().ToString("N")[..10], timeout);

    /// <summary>
    /// Creates <paramref name="name"/> through <paramref name="node"/>, retrying a 503 as a client would: right after a
    /// test broke something, a topic change may find the sequencer or a shard still moving. Created or already there
    /// both end it; anything else, or no commit within <paramref name="timeout"/>, fails with every node's last log lines.
    /// </summary>
    public async Task CreateTopicAsync(ReplNodeProcess node, string name, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var (status, body) = await node.Client.SendAsync(HttpMethod.Post, "/topics", JsonSerializer.Serialize(new { name }));
            if (status is HttpStatusCode.Created or HttpStatusCode.Conflict) return;
            if (status != HttpStatusCode.ServiceUnavailable || DateTime.UtcNow > deadline)
            {
                var logs = string.Join("\n", _lighthouses.Concat(_nodes).Select(member => $"--- {member.Id}:\n{member.OutputTail}"));
                throw new TimeoutException($"topic {name} was not created within {timeout.TotalSeconds:0} s: {(int)status} {body}\n{logs}");
            }
            await Task.Delay(200);
        }
    }

    /// <summary>Waits until the first broker sees every lighthouse and broker Up and reachable, and no other member.</summary>
    public async Task WaitConvergedAsync(TimeSpan timeout)
    {
        var expected = _lighthouses.Concat(_nodes).Select(node => node.AkkaAddress).Order(StringComparer.Ordinal).ToArray();
        var deadline = DateTime.UtcNow + timeout;
        IReadOnlyList<AkkaMember> seen = [];
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                seen = await AkkaMembersAsync(_nodes[0]);
                if (seen.All(member => member.Status == "up" && member.Reachable) && seen.Select(member => member.Address).Order(StringComparer.Ordinal).SequenceEqual(expected)) return;
            }
            catch (Exception error) when (error is HttpRequestException or TaskCanceledException or KeyNotFoundException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"the Akka cluster did not converge on {string.Join(", ", expected)} within {timeout.TotalSeconds:0} s; n1 sees: " +
            string.Join(", ", seen.Select(member => $"{member.Address} {member.Status}{(member.Reachable ? "" : " unreachable")}")));
    }

    /// <summary>The brokers, the one that runs the sequencer first (the oldest Up broker, as <c>/cluster</c> says).</summary>
    public async Task<IReadOnlyList<ReplNodeProcess>> SequencerFirstAsync()
    {
        string? sequencer = (await AkkaViewAsync(_nodes.First(node => node.IsRunning))).GetProperty("sequencer").GetString();
        return [.. _nodes.OrderBy(node => node.AkkaAddress == sequencer ? 0 : 1)];
    }

    /// <summary>The Akka members <paramref name="node"/>'s <c>/cluster</c> lists.</summary>
    public static async Task<IReadOnlyList<AkkaMember>> AkkaMembersAsync(ReplNodeProcess node) =>
        [.. (await AkkaViewAsync(node)).GetProperty("members").EnumerateArray().Select(member => new AkkaMember(
            member.GetProperty("address").GetString()!, [.. member.GetProperty("roles").EnumerateArray().Select(role => role.GetString()!)],
            member.GetProperty("status").GetString()!, member.GetProperty("reachable").GetBoolean()))];

    /// <summary>The <c>akka</c> part of <paramref name="node"/>'s <c>/cluster</c>.</summary>
    public static async Task<JsonElement> AkkaViewAsync(ReplNodeProcess node)
    {
        using var probe = new HttpClient { BaseAddress = node.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        using var document = JsonDocument.Parse(await probe.GetStringAsync("/cluster"));
        return document.RootElement.GetProperty("akka").Clone();
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        foreach (var node in _lighthouses) await node.DisposeAsync();
        if (_etcd is not null) await _etcd.DisposeAsync();
    }
}

public sealed record AkkaMember(string Address, IReadOnlyList<string> Roles, string Status, bool Reachable);

[CollectionDefinition(Name)]
public sealed class ReplClusterCollection : ICollectionFixture<ReplClusterFixture>
{
    public const string Name = "repl cluster";
}
