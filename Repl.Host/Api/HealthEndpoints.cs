using Akka.Actor;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Repl.Actors.Log;
using Repl.Actors.Topics;
using Repl.Host.Cluster;
using Repl.Host.Contract;
using Repl.Host.Node;
using Repl.Sse;

namespace Repl.Host.Api;

/// <summary><c>/health</c> (as REPL), <c>/healthz</c> (alive) and <c>/readyz</c> (ready to take traffic).</summary>
/// <remarks>
/// <c>/healthz</c> and <c>/readyz</c> run Akka.Hosting's checks (tag <c>liveness</c>: the actor system runs; tag
/// <c>ready</c>: this node is an Up member of its cluster) before Repl's own: a node that is stopping, or (cluster mode)
/// lags the log, is not ready, and neither is one whose canary publish does not go through the log and its reader.
/// The handlers take the node's services from this instance, made once when the routes are mapped (as
/// <see cref="TopicEndpoints"/> does); the actor system, which exists once the host has started, per request.
/// </remarks>
internal sealed class HealthEndpoints(ReplNode node, TopicRegistry registry, SseCounters streams, NodeOptions options, ClusterOptions cluster,
    ClusterMembership? membership, IHostApplicationLifetime lifetime)
{
    /// <summary>
    /// The whole of a readiness answer, checks and canary: a probe always gets one within a second, whatever the log is
    /// doing (a commit waiting on an etcd without quorum would otherwise hold it for the request timeout).
    /// </summary>
    private static readonly TimeSpan ReadyBudget = TimeSpan.FromMilliseconds(900);

    public static void Map(IEndpointRouteBuilder routes)
    {
        var services = routes.ServiceProvider;
        var api = new HealthEndpoints(services.GetRequiredService<ReplNode>(), services.GetRequiredService<TopicRegistry>(), services.GetRequiredService<SseCounters>(),
            services.GetRequiredService<IOptions<NodeOptions>>().Value, services.GetRequiredService<IOptions<ClusterOptions>>().Value,
            services.GetService<ClusterMembership>(), services.GetRequiredService<IHostApplicationLifetime>());
        // Open with auth on too (probes carry no token); the body names no topic, only how many there are.
        routes.MapGet("/health", () => TypedResults.Json(api.Health("up"), ApiJsonContext.Default.HealthBody)).AllowAnonymous();
        routes.MapGet("/healthz", api.LiveAsync).AllowAnonymous();
        routes.MapGet("/readyz", api.ReadyAsync).AllowAnonymous();
    }

    private async Task<IResult> LiveAsync(HealthCheckService checks, CancellationToken cancellationToken)
    {
        if (await FailedAsync(checks, "liveness", cancellationToken) is { } failed) return ApiError.Unavailable("not live: " + failed);
        return TypedResults.Json(Health("live"), ApiJsonContext.Default.HealthBody);
    }

    /// <summary>
    /// Ready when the node is not stopping, is an Up cluster member, (cluster mode) is near the log's head and not cut off
    /// from etcd, and a canary message goes all the way: committed by the log and applied on this node, within a bound.
    /// </summary>
    private async Task<IResult> ReadyAsync(HealthCheckService checks, TimeProvider time, ActorSystem system, CancellationToken cancellationToken)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested) return ApiError.Unavailable("not ready: the node is shutting down");
        if (AkkaClusterView.NotUp(system) is { } notUp) return ApiError.Of(StatusCodes.Status503ServiceUnavailable, "not ready", notUp);
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(ReadyBudget);
        try
        {
            return await ReadyWithinAsync(checks, time, budget.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return ApiError.Unavailable($"not ready: the checks and the canary publish did not finish within {ReadyBudget.TotalMilliseconds:0} ms");
        }
    }

    private async Task<IResult> ReadyWithinAsync(HealthCheckService checks, TimeProvider time, CancellationToken cancellationToken)
    {
        if (await FailedAsync(checks, "ready", cancellationToken) is { } failed) return ApiError.Unavailable("not ready: " + failed);
        if (membership is not null)
        {
            // A node far behind the log would serve stale streams; let the balancer skip it until it catches up.
            if (membership.Lag > cluster.MaxLag)
            {
                return ApiError.Unavailable($"not ready: applied position is {membership.Lag} entries behind the log (Cluster:MaxLag {cluster.MaxLag})");
            }
            // Cut off from etcd: its streams are told to go elsewhere, so the balancer should send none here.
            if (membership.IsCutOff)
            {
                return ApiError.Unavailable($"not ready: cut off from etcd for {membership.Health.UnavailableFor?.TotalSeconds:0.#} s ({membership.Health.LastError}); streams are told to reconnect elsewhere");
            }
        }
        try
        {
            var command = new PublishCommand(ReplNode.CanaryTopic, Repl.Actors.Messages.MessageJson.EncodeBody(ReplNode.CanaryTopic, "ready?", [], time.GetUtcNow()),
                time.GetUtcNow().ToUnixTimeMilliseconds());
            await node.PublishAsync([command]).WaitAsync(cancellationToken);
            return TypedResults.Json(Health("ready"), ApiJsonContext.Default.HealthBody);
        }
        catch (LogUnavailableException error)
        {
            return ApiError.Unavailable("not ready: the canary publish was not committed (" + error.Message + ")");
        }
        catch (OutcomeUnknownException error)
        {
            // Not "log unavailable", which says nothing was committed: the canary may have been.
            return ApiError.Of(StatusCodes.Status503ServiceUnavailable, ApiError.OutcomeUnknown, "not ready: the canary publish was not answered (" + error.Message + ")");
        }
    }

    /// <summary>The first failing check with <paramref name="tag"/>, described; null when all are healthy.</summary>
    private static async Task<string?> FailedAsync(HealthCheckService checks, string tag, CancellationToken cancellationToken)
    {
        var report = await checks.CheckHealthAsync(check => check.Tags.Contains(tag), cancellationToken);
        if (report.Status == HealthStatus.Healthy) return null;
        var (name, entry) = report.Entries.First(pair => pair.Value.Status != HealthStatus.Healthy);
        return $"{name}: {entry.Description ?? entry.Status.ToString()}";
    }

    private HealthBody Health(string status) => new(status, cluster.Mode, options.Id, registry.Public.Count(), registry.AppliedPosition, streams.Open);
}
