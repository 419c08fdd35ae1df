using System.Diagnostics;
using Repl.Actors.Cluster.Etcd;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests;

/// <summary>Three-member clusters, one per test, since the tests kill members.</summary>
public sealed class FailoverTests : IAsyncLifetime
{
    private EtcdCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await EtcdCluster.StartAsync(members: 3);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task Status_EveryMember_AgreesOnOneLeader()
    {
        await using var client = _cluster.CreateClient();

        var statuses = await Task.WhenAll(_cluster.ClientUrls.Select(u => client.StatusAsync(u)));
        var leaderIndex = await _cluster.LeaderIndexAsync();

        Assert.Single(statuses.Select(s => s.Leader).Distinct());
        Assert.Single(statuses, s => s.IsLeader);
        Assert.Equal(statuses[leaderIndex].MemberId, statuses[0].Leader);
        Assert.Equal(3, statuses.Select(s => s.MemberId).Distinct().Count());
        Assert.All(statuses, s => Assert.StartsWith("3.", s.Version, StringComparison.Ordinal));
        Assert.All(statuses, s => Assert.True(s.DbSize > 0 && s.RaftIndex > 0 && s.RaftTerm > 0));
    }

    [Fact]
    public async Task MemberList_ListsEveryMemberWithItsUrls()
    {
        await using var client = _cluster.CreateClient();

        var members = await client.MemberListAsync();

        Assert.Equal(["n0", "n1", "n2"], members.Select(m => m.Name).Order());
        Assert.Equal(
            _cluster.ClientUrls.Select(u => u.ToString()).Order(),
            members.SelectMany(m => m.ClientUrls).Select(u => u.ToString()).Order());
    }

    [Fact]
    public async Task Calls_FirstEndpointKilled_SucceedViaOtherEndpoints()
    {
        // Point the client first at a follower, so killing it costs no election and the
        // test shows failover alone; the leader-loss case is covered by the watch test.
        var leader = await _cluster.LeaderIndexAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        var order = new[] { follower }.Concat(Enumerable.Range(0, 3).Where(i => i != follower)).ToArray();
        await using var client = _cluster.CreateClient(order: order);
        await client.PutAsync("/f/before", "1");
        Assert.Equal(_cluster.ClientUrls[follower], client.CurrentEndpoint);

        await _cluster.KillAsync(follower);

        var put = await client.PutAsync("/f/after", "2");
        var txn = await client.TxnAsync([TxnCompare.Version("/f/after", CompareResult.Equal, 1)], [TxnOp.Put("/f/txn", "3")]);
        var read = await client.GetPrefixAsync("/f/");
        Assert.True(put.Header.Revision > 0);
        Assert.True(txn.Succeeded);
        Assert.Equal(3, read.Count);
        Assert.NotEqual(_cluster.ClientUrls[follower], client.CurrentEndpoint);

        // The killed member comes back as itself and catches up.
        await _cluster.RestartAsync(follower);
        var status = await client.StatusAsync(_cluster.ClientUrls[follower]);
        Assert.NotEqual(0UL, status.Leader);
    }

    [Fact]
    public async Task Calls_LeaderKilled_SucceedAfterElection()
    {
        var leader = await _cluster.LeaderIndexAsync();
        var order = new[] { leader }.Concat(Enumerable.Range(0, 3).Where(i => i != leader)).ToArray();
        await using var client = _cluster.CreateClient(requestTimeout: TimeSpan.FromSeconds(10), order: order);

        await _cluster.KillAsync(leader);
        var put = await client.PutAsync("/f/k", "after leader loss");

        Assert.True(put.Header.Revision > 0);
        Assert.NotEqual(leader, await _cluster.LeaderIndexAsync());
    }

    [Fact]
    public async Task Calls_AllMembersDown_ThrowEtcdUnavailableWithinTimeout()
    {
        await using var client = _cluster.CreateClient(requestTimeout: TimeSpan.FromSeconds(2));
        await client.PutAsync("/f/k", "1");
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_cluster.KillAsync));

        var stopwatch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<EtcdUnavailableException>(() => client.GetAsync("/f/k"));
        stopwatch.Stop();

        Assert.InRange(stopwatch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(4));
        Assert.Equal(_cluster.ClientUrls.Select(u => u.ToString()).Order(), error.EndpointsTried.Select(u => u.ToString()).Order());
        foreach (var url in _cluster.ClientUrls)
        {
            Assert.Contains(url.ToString(), error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Watch_MemberServingItKilled_ResumesElsewhereWithoutGapsOrDuplicates()
    {
        await using var writer = _cluster.CreateClient(order: [1, 2, 0]);
        await using var watcher = _cluster.CreateClient(order: [0, 1, 2]);
        var start = (await writer.PutAsync("/w/k", "0")).Header.Revision;

        var collecting = WatchCollector.CollectAsync(watcher.WatchPrefixAsync("/w/", start), count: 21, timeout: TimeSpan.FromSeconds(20));
        var revisions = new List<long> { start };
        for (var i = 1; i <= 10; i++)
        {
            revisions.Add((await writer.PutAsync("/w/k", i.ToString(System.Globalization.CultureInfo.InvariantCulture))).Header.Revision);
        }

        // Member 0 serves the watch; losing it (maybe the leader) must not lose or repeat an event.
        await _cluster.KillAsync(0);
        for (var i = 11; i <= 20; i++)
        {
            revisions.Add((await writer.PutAsync("/w/k", i.ToString(System.Globalization.CultureInfo.InvariantCulture))).Header.Revision);
        }

        var events = await collecting;

        Assert.Equal(revisions, events.Select(e => e.Kv.ModRevision));
        Assert.Equal(Enumerable.Range(0, 21).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), events.Select(e => e.Kv.ValueString));
        Assert.NotEqual(_cluster.ClientUrls[0], watcher.CurrentEndpoint);
    }
}
