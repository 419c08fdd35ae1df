using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Etcdserverpb;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Repl.Actors.Etcd;
using Repl.Actors.Topics;
using Repl.Host.Cluster;
using Repl.Host.Node;
using Repl.Host.Security;

namespace Repl.Host.Api;

/// <summary><c>GET /cluster</c>: the cluster as this node sees it (standalone: just this node). With auth on, admin only: it shows the topology.</summary>
/// <remarks>The node's services are taken once, when the route is mapped; the actor system, which exists once the host has started, per request.</remarks>
internal sealed class ClusterEndpoints(TopicRegistry registry, NodeOptions node, ClusterOptions options, ClusterMembership? membership, EtcdConnection? etcd)
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var services = routes.ServiceProvider;
        var api = new ClusterEndpoints(services.GetRequiredService<TopicRegistry>(), services.GetRequiredService<IOptions<NodeOptions>>().Value,
            services.GetRequiredService<IOptions<ClusterOptions>>().Value, services.GetService<ClusterMembership>(), services.GetService<EtcdConnection>());
        routes.MapGet("/cluster", api.ViewAsync).RequireAuthorization(ReplPolicies.Admin);
    }

    private async Task<IResult> ViewAsync(ActorSystem system, ActorRegistry actors, CancellationToken requestAborted)
    {
        // An operator asks this most when etcd is in trouble: answer within a bound with what is known.
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);
        bound.CancelAfter(TimeSpan.FromSeconds(3));
        var cancellationToken = bound.Token;
        long applied = registry.AppliedPosition;
        var akka = AkkaClusterView.BuildAsync(system, actors, cancellationToken);
        if (membership is not { Started: true } || etcd is null)
        {
            // Cluster mode before the node has started (waiting to join the Akka cluster, or for etcd): say so.
            string state = options.IsCluster ? "starting" : "up";
            var self = new ClusterMemberView(node.Id, "", state, applied, 0, null, Self: true);
            return TypedResults.Json(new ClusterView(options.Mode, node.Id, applied, applied, state, [self], null, await akka), ClusterJsonContext.Default.ClusterView);
        }

        long head = membership.LogHead;
        var members = new List<ClusterMemberView>();
        string status = membership.Health.UnavailableFor is null ? "up" : "cut off from etcd";
        try
        {
            var listed = etcd.GetPrefixAsync(membership.MembersPrefix, 0, cancellationToken);
            var progress = etcd.GetPrefixAsync(membership.ProgressPrefix, 0, cancellationToken);
            var positions = (await progress).Kvs.ToDictionary(
                kv => kv.Key.ToStringUtf8()[membership.ProgressPrefix.Length..],
                kv => long.TryParse(kv.Value.ToStringUtf8(), NumberStyles.None, CultureInfo.InvariantCulture, out long p) ? p : 0);
            foreach (var kv in (await listed).Kvs)
            {
                var record = JsonSerializer.Deserialize(kv.Value.Span, ClusterJsonContext.Default.ClusterMemberRecord);
                if (record is null) continue;
                bool self = record.Id == node.Id;
                long memberApplied = self ? applied : positions.GetValueOrDefault(record.Id);
                long lag = Math.Max(0, head - memberApplied);
                members.Add(new ClusterMemberView(record.Id, record.Url, lag > options.MaxLag ? "lagging" : "up", memberApplied, lag, record.StartedAt, self));
            }
        }
        catch (Exception error) when (error is RpcException || (error is OperationCanceledException && !requestAborted.IsCancellationRequested))
        {
            status = "cut off from etcd: " + (error is RpcException rpc ? rpc.Status.Detail : "no answer within 3 s");
        }
        if (!members.Any(member => member.Self))
        {
            members.Add(new ClusterMemberView(node.Id, options.AdvertiseUrl ?? "", status, applied, membership.Lag, null, Self: true));
        }
        return TypedResults.Json(
            new ClusterView(options.Mode, node.Id, applied, head, status, members, await EtcdViewAsync(etcd, cancellationToken), await akka),
            ClusterJsonContext.Default.ClusterView);
    }

    private static async Task<EtcdView> EtcdViewAsync(EtcdConnection etcd, CancellationToken cancellationToken)
    {
        IReadOnlyList<Member> members = [];
        string? error = null;
        try
        {
            members = (await etcd.Client.MemberListAsync(new MemberListRequest(), deadline: etcd.Deadline(), cancellationToken: cancellationToken)).Members;
        }
        catch (Exception failure) when (failure is RpcException or OperationCanceledException)
        {
            error = failure is RpcException rpc ? rpc.Status.Detail : "no answer in time";
        }
        // Every configured endpoint plus any member's URL, each asked directly (no failover: the answer is about it).
        var urls = etcd.Endpoints.Concat(members.SelectMany(member => member.ClientURLs).Select(url => new Uri(url))).DistinctBy(url => url.AbsoluteUri).ToList();
        var statuses = await Task.WhenAll(urls.Select(async url =>
        {
            try
            {
                return (url, (StatusResponse?)await etcd.StatusOfAsync(url, cancellationToken), (string?)null);
            }
            catch (Exception failure) when (failure is RpcException or OperationCanceledException)
            {
                return (url, null, failure is RpcException rpc ? rpc.Status.Detail : "no answer in time");
            }
        }));
        ulong leader = statuses.Select(s => s.Item2?.Leader ?? 0).FirstOrDefault(id => id != 0);
        string? leaderName = members.FirstOrDefault(member => member.ID == leader)?.Name ?? (leader == 0 ? null : leader.ToString("x", CultureInfo.InvariantCulture));
        return new EtcdView(
            leaderName,
            [.. members.Select(member => new EtcdMemberView(member.ID.ToString("x", CultureInfo.InvariantCulture), member.Name,
                [.. member.ClientURLs.Select(url => url.TrimEnd('/'))], member.ID == leader))],
            [.. statuses.Select(s => new EtcdEndpointView(s.url.ToString().TrimEnd('/'), s.Item2 is null ? "down" : s.Item2.Leader == 0 ? "no leader" : "up",
                s.Item2?.Version, s.Item2 is { Leader: not 0 } answer && answer.Leader == answer.Header.MemberId, (long?)s.Item2?.RaftIndex, s.Item2?.DbSize, s.Item3))],
            error);
    }
}
