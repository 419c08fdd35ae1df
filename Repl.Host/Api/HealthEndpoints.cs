using Repl.Actors.Log;
using Repl.Host.Node;

namespace Repl.Host.Api;

/// <summary><c>/health</c> (as REPL), <c>/healthz</c> (alive) and <c>/readyz</c> (ready to take traffic).</summary>
internal static class HealthEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        // Open with auth on too (probes carry no token); the body names no topic, only how many there are.
        routes.MapGet("/health", (ReplNode node) => TypedResults.Json(Health(node, "up"), ApiJsonContext.Default.HealthBody)).AllowAnonymous();
        routes.MapGet("/healthz", (ReplNode node) => TypedResults.Json(Health(node, "live"), ApiJsonContext.Default.HealthBody)).AllowAnonymous();
        routes.MapGet("/readyz", ReadyAsync).AllowAnonymous();
    }

    /// <summary>
    /// Ready when a canary message goes all the way: committed by the log and applied on this node, within a bound.
    /// </summary>
    private static async Task<IResult> ReadyAsync(ReplNode node, TimeProvider time, CancellationToken cancellationToken)
    {
        // Cluster mode: a node far behind the log would serve stale streams; let the balancer skip it until it catches up.
        if (node.Membership is { } membership && membership.LagRevisions > node.ClusterOptions.MaxLagRevisions)
        {
            return ApiError.Unavailable($"not ready: applied position is {membership.LagRevisions} etcd revisions behind the log (Cluster:MaxLagRevisions {node.ClusterOptions.MaxLagRevisions})");
        }
        try
        {
            var command = new PublishCommand(ReplNode.CanaryTopic, Repl.Actors.Messages.MessageJson.EncodeBody(ReplNode.CanaryTopic, "ready?", [], time.GetUtcNow()),
                time.GetUtcNow().ToUnixTimeMilliseconds());
            await node.Sequencer.PublishAsync([command], cancellationToken).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            return TypedResults.Json(Health(node, "ready"), ApiJsonContext.Default.HealthBody);
        }
        catch (Exception error) when (error is TimeoutException or LogUnavailableException)
        {
            return ApiError.Unavailable("not ready: the canary publish did not commit and apply in time (" + error.Message + ")");
        }
    }

    private static HealthBody Health(ReplNode node, string status) =>
        new(status, node.Mode, node.Options.Id, node.Registry.All.Count, node.Registry.AppliedPosition, node.Streams.Open);
}
