using System.Diagnostics;
using System.Text.Json;
using Etcdserverpb;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Cluster.Tests.Infrastructure;

namespace Repl.Cluster.Tests;

/// <summary>
/// The node's etcd connection (<see cref="EtcdConnection"/>) and log over three-member clusters, one per test, since
/// the tests kill members.
/// </summary>
public sealed class FailoverTests : IAsyncLifetime
{
    private EtcdCluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await EtcdCluster.StartAsync(members: 3);

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task StatusOf_EveryMember_AgreesOnOneLeader()
    {
        using var etcd = _cluster.CreateClient();

        var statuses = await Task.WhenAll(_cluster.ClientUrls.Select(url => etcd.StatusOfAsync(url, default)));
        var leaderIndex = await _cluster.LeaderIndexAsync();

        Assert.Single(statuses.Select(s => s.Leader).Distinct());
        Assert.Equal(statuses[leaderIndex].Header.MemberId, statuses[0].Leader);
        Assert.Equal(3, statuses.Select(s => s.Header.MemberId).Distinct().Count());
        Assert.All(statuses, s => Assert.StartsWith("3.", s.Version, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Calls_TheOneMemberThatStayedUpKilled_SucceedViaTheMembersThatCameBack()
    {
        // Two members down for a while (the quorum with them), back, then the one that stayed up killed: the channel
        // must be using the two again by then (it retries a member that was down every EtcdConnection.ReconnectBackoff).
        using var etcd = _cluster.CreateClient();
        await Put(etcd, "/f/before", "1");
        await Task.WhenAll(_cluster.KillAsync(0), _cluster.KillAsync(1));
        await Task.Delay(TimeSpan.FromSeconds(12));
        await _cluster.RestartAsync(0, 1);
        // The member that stayed up must be a follower when it dies: this is about the channel, not an election.
        if (await _cluster.LeaderIndexAsync() == 2)
        {
            using var onLeader = _cluster.CreateClient(members: [2]);
            var target = await onLeader.StatusOfAsync(_cluster.ClientUrls[0], default);
            await onLeader.Client.MoveLeaderAsync(new MoveLeaderRequest { TargetID = target.Header.MemberId }, deadline: onLeader.Deadline());
            var until = DateTime.UtcNow.AddSeconds(10);
            while (await _cluster.LeaderIndexAsync() == 2) Assert.True(DateTime.UtcNow < until, "etcd did not move its leadership");
        }
        await Task.Delay(EtcdConnection.ReconnectBackoff * 3);

        await _cluster.KillAsync(2);

        await Put(etcd, "/f/after", "2");
        Assert.Equal(2, (await etcd.GetPrefixAsync("/f/", 0, default)).Count);
    }

    [Fact]
    public async Task Calls_AMemberKilled_SucceedViaTheOthers()
    {
        // A follower, so killing it costs no election and the test shows failover alone.
        var leader = await _cluster.LeaderIndexAsync();
        var follower = Enumerable.Range(0, 3).First(i => i != leader);
        using var etcd = _cluster.CreateClient();
        for (int i = 0; i < 6; i++) await Put(etcd, $"/f/before{i}", "1"); // round robin: every member has served one

        await _cluster.KillAsync(follower);

        for (int i = 0; i < 6; i++) await Put(etcd, $"/f/after{i}", "2");
        var txn = await etcd.Client.TransactionAsync(new TxnRequest
        {
            Compare = { new Compare { Key = EtcdConnection.Key("/f/after0"), Target = Compare.Types.CompareTarget.Version, Result = Compare.Types.CompareResult.Equal, Version = 1 } },
            Success = { new RequestOp { RequestPut = new PutRequest { Key = EtcdConnection.Key("/f/txn"), Value = Google.Protobuf.ByteString.CopyFromUtf8("3") } } },
        }, deadline: etcd.Deadline());
        var read = await etcd.GetPrefixAsync("/f/", 0, default);
        Assert.True(txn.Succeeded);
        Assert.Equal(13, read.Count);
    }

    [Fact]
    public async Task Calls_LeaderKilled_SucceedAfterElection()
    {
        var leader = await _cluster.LeaderIndexAsync();
        using var etcd = _cluster.CreateClient(requestTimeout: TimeSpan.FromSeconds(10));
        await Put(etcd, "/f/k", "before");

        await _cluster.KillAsync(leader);
        var put = await Put(etcd, "/f/k", "after leader loss");

        Assert.True(put.Header.Revision > 0);
        Assert.NotEqual(leader, await _cluster.LeaderIndexAsync());
    }

    [Fact]
    public async Task Calls_AllMembersDown_FailWithinTheRequestTimeout()
    {
        using var etcd = _cluster.CreateClient(requestTimeout: TimeSpan.FromSeconds(2));
        await Put(etcd, "/f/k", "1");
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_cluster.KillAsync));

        var stopwatch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<RpcException>(() => etcd.GetAsync("/f/k", default));
        stopwatch.Stop();

        Assert.InRange(stopwatch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(3));
        Assert.Contains(error.StatusCode, new[] { StatusCode.Unavailable, StatusCode.DeadlineExceeded });
    }

    [Fact]
    public async Task Quorum_Lost_LinearizableReadFailsWithinTheRequestTimeout()
    {
        // Two of three down: the survivor is up but cannot serve a linearizable read.
        var leader = await _cluster.LeaderIndexAsync();
        var survivor = (leader + 1) % 3;
        using var etcd = _cluster.CreateClient(requestTimeout: TimeSpan.FromSeconds(2), members: [survivor]);
        await Put(etcd, "/f/q", "1");
        await Task.WhenAll(Enumerable.Range(0, 3).Where(i => i != survivor).Select(_cluster.KillAsync));

        var stopwatch = Stopwatch.StartNew();
        await Assert.ThrowsAsync<RpcException>(() => etcd.GetAsync("/f/q", default));

        Assert.InRange(stopwatch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task LogReader_EachMemberKilledInTurn_ResumesElsewhereWithoutGapsOrDuplicates()
    {
        // Which member serves the reader's watch is the channel's choice: killing each in turn kills that one too. The
        // writer is the sequencer on etcd, publishing as a client would: again with the same key after a 503.
        using var writer = new SequencerNode("n1", "/failover", _cluster.ClientUrlList);
        using var readerEtcd = _cluster.CreateClient();
        await using var reader = new EtcdLog(readerEtcd, new EtcdLogOptions { Prefix = "/failover", NodeId = "n2", WatchRetryDelay = TimeSpan.FromMilliseconds(100) }, [],
            new LogHealth(TimeProvider.System), TimeProvider.System, NullLogger.Instance);
        var sequencer = await writer.StartSequencerAsync();
        await writer.CreateAsync(sequencer, "t");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var read = new List<LogEntry>();
        var reading = Task.Run(async () =>
        {
            await foreach (var batch in reader.ReadAsync(0, 0, timeout.Token))
            {
                read.AddRange(batch.Entries);
                if (read.Count >= 1 + 20) return;
            }
        });

        var written = new List<long>();
        async Task WriteAsync(int from)
        {
            for (int i = from; i < from + 5; i++) written.Add(await SequencerNode.PublishUntilCommittedAsync(sequencer, "t", $"m{i}", $"k{i}", TimeSpan.FromSeconds(30)));
        }
        await WriteAsync(0);
        for (int member = 0; member < 3; member++)
        {
            await _cluster.KillAsync(member);
            await WriteAsync(5 * (member + 1));
            await _cluster.RestartAsync(member);
        }
        await reading;

        Assert.Equal(written, read.Skip(1).Select(entry => entry.Position));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), read.Skip(1).Select(entry => JsonDocument.Parse(entry.Message).RootElement.GetProperty("value").GetString()));
    }

    private static Task<PutResponse> Put(EtcdConnection etcd, string key, string value) => etcd.PutAsync(key, Google.Protobuf.ByteString.CopyFromUtf8(value), 0, default);
}
