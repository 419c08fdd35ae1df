using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Repl.Actors.Etcd;
using Repl.Actors.Topics;
using Repl.Host.Cluster;

namespace Repl.Host.Tests.Cluster;

/// <summary>What a node's streams are told while it is cut off from etcd, with no etcd: its health is reported by hand.</summary>
public sealed class ClusterMembershipTests
{
    [Fact]
    public async Task TheStreamsToken_IsCancelledOnceCutOff_AndLiveForNewStreamsAsSoonAsEtcdAnswers()
    {
        var health = new LogHealth(TimeProvider.System);
        using var etcd = new EtcdConnection("http://127.0.0.1:1", TimeSpan.FromSeconds(1));
        // Not started: no watch loop runs, so only reading the token can bring it up to date.
        await using var membership = new ClusterMembership(etcd, new ClusterOptions(), "n1", new TopicRegistry(), health, TimeProvider.System,
            NullLogger<ClusterMembership>.Instance);
        var before = membership.StreamsUnavailable;
        Assert.False(before.IsCancellationRequested);

        health.ReportFailure(new TimeoutException("etcd did not answer"), Stopwatch.GetTimestamp() - 10 * Stopwatch.Frequency);
        Assert.True(membership.IsCutOff);
        Assert.True(membership.StreamsUnavailable.IsCancellationRequested);
        Assert.True(before.IsCancellationRequested);

        health.ReportSuccess();
        Assert.False(membership.IsCutOff);
        Assert.False(membership.StreamsUnavailable.IsCancellationRequested);
    }
}
