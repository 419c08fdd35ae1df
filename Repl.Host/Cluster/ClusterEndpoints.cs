using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Repl.Actors.Cluster;
using Repl.Actors.Cluster.Etcd;
using Repl.Actors.Topics;
using Repl.Host.Node;
using Repl.Host.Security;

namespace Repl.Host.Cluster;

/// <summary><c>GET /cluster</c>: the cluster as this node sees it (standalone: just this node). With auth on, admin only: it shows the topology.</summary>
internal static class ClusterEndpoints
{
    public static void Map(IEndpointRouteBuilder routes) => routes.MapGet("/cluster", ViewAsync).RequireAuthorization(ReplPolicies.Admin);

    private static async Task<IResult> ViewAsync(ReplNode node, ActorSystem system, ActorRegistry actors, CancellationToken requestAborted)
    {
        // An operator asks this most when etcd is in trouble: answer within a bound with what is known.
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        bound.CancelAfter(TimeSpan.FromSeconds(3));
        var cancellationToken = bound.Token;
        long applied = node.Registry.AppliedPosition;
        var akka = AkkaClusterView.BuildAsync(system, actors.TryGet<TopicProtocol.Key>(out var topics) ? topics : null, cancellationToken);
        if (node.Membership is not { } membership || node.Etcd is not { } etcd)
        {
            // Cluster mode before the node has started (waiting to join the Akka cluster, or for etcd): say so.
            string state = node.IsCluster ? "starting" : "up";
            var self = new ClusterMemberView(node.Options.Id, "", state, applied, 0, null, Self: true);
            return TypedResults.Json(new ClusterView(node.Mode, node.Options.Id, applied, 0, 0, state, [self], null, await akka), ClusterJsonContext.Default.ClusterView);
        }

        long logRevision = membership.LogRevision;
        var members = new List<ClusterMemberView>();
        string status = membership.Health.UnavailableFor is null ? "up" : "cut off from etcd";
        try
        {
            var listed = etcd.GetPrefixAsync(membership.MembersPrefix, cancellationToken: cancellationToken);
            var progress = etcd.GetPrefixAsync(membership.ProgressPrefix, cancellationToken: cancellationToken);
            var positions = (await progress).Kvs.ToDictionary(
                kv => kv.KeyString[membership.ProgressPrefix.Length..],
                kv => long.TryParse(kv.ValueString, NumberStyles.None, CultureInfo.InvariantCulture, out long p) ? p : 0);
            foreach (var kv in (await listed).Kvs)
            {
                var record = JsonSerializer.Deserialize(kv.Value, ClusterJsonContext.Default.ClusterMemberRecord);
                if (record is null) continue;
                bool self = record.Id == node.Options.Id;
                long memberApplied = self ? applied : positions.GetValueOrDefault(record.Id);
                long lag = Math.Max(0, logRevision - EtcdPositions.RevisionOf(memberApplied));
                members.Add(new ClusterMemberView(record.Id, record.Url, lag > node.ClusterOptions.MaxLagRevisions ? "lagging" : "up", memberApplied, lag, record.StartedAt, self));
            }
        }
        catch (Exception error) when (error is EtcdException || (error is OperationCanceledException && !requestAborted.IsCancellationRequested))
        {
            status = "cut off from etcd: " + (error is EtcdException ? error.Message : "no answer within 3 s");
        }
        if (!members.Any(member => member.Self))
        {
            members.Add(new ClusterMemberView(node.Options.Id, node.ClusterOptions.AdvertiseUrl ?? "", status, applied, membership.LagRevisions, null, Self: true));
        }
        return TypedResults.Json(
            new ClusterView(node.Mode, node.Options.Id, applied, EtcdPositions.RevisionOf(applied), logRevision, status, members, await EtcdViewAsync(etcd, cancellationToken), await akka),
            ClusterJsonContext.Default.ClusterView);
    }

    private static async Task<EtcdView> EtcdViewAsync(EtcdClient etcd, CancellationToken cancellationToken)
    {
        IReadOnlyList<EtcdMember> members = [];
        string? error = null;
        try
        {
            members = await etcd.MemberListAsync(cancellationToken);
        }
        catch (Exception failure) when (failure is EtcdException or OperationCanceledException)
        {
            error = failure is EtcdException ? failure.Message : "no answer in time";
        }
        // Every configured endpoint plus any member's URL, each asked directly (no failover: the answer is about it).
        var urls = etcd.Endpoints.Concat(members.SelectMany(member => member.ClientUrls)).DistinctBy(url => url.AbsoluteUri).ToList();
        var statuses = await Task.WhenAll(urls.Select(async url =>
        {
            try
            {
                return (url, (EtcdStatus?)await etcd.StatusAsync(url, cancellationToken), (string?)null);
            }
            catch (Exception failure) when (failure is EtcdException or OperationCanceledException)
            {
                return (url, null, failure is EtcdException ? failure.Message : "no answer in time");
            }
        }));
        ulong leader = statuses.Select(s => s.Item2?.Leader ?? 0).FirstOrDefault(id => id != 0);
        string? leaderName = members.FirstOrDefault(member => member.Id == leader)?.Name ?? (leader == 0 ? null : leader.ToString("x", CultureInfo.InvariantCulture));
        return new EtcdView(
            leaderName,
            [.. members.Select(member => new EtcdMemberView(member.Id.ToString("x", CultureInfo.InvariantCulture), member.Name,
                [.. member.ClientUrls.Select(url => url.ToString().TrimEnd('/'))], member.Id == leader))],
            [.. statuses.Select(s => new EtcdEndpointView(s.url.ToString().TrimEnd('/'), s.Item2 is null ? "down" : s.Item2.Leader == 0 ? "no leader" : "up",
                s.Item2?.Version, s.Item2?.IsLeader ?? false, (long?)s.Item2?.RaftIndex, s.Item2?.DbSize, s.Item3))],
            error);
    }
}
