using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Repl.Actors.Sharding;
using Repl.Actors.Topics;
using Repl.Host.Api;
using Repl.Host.Cluster;
using Repl.Host.Contract;
using Repl.Host.Node;

namespace Repl.Host.Lighthouse;

/// <summary>
/// <c>Repl.Host --role lighthouse</c>: a seed-only member of the Akka cluster (role <c>lighthouse</c>) that brokers
/// join. No shard, no singleton, no journal, no publish API. With <c>--urls</c> it serves <c>/healthz</c>,
/// <c>/readyz</c> (an Up member) and <c>/cluster</c> (the Akka view); without, no HTTP at all, as petabridge/lighthouse.
/// </summary>
internal static class LighthouseHost
{
    public static IHost Build(string[] args)
    {
        var probe = ReplHost.Configuration(args);
        bool http = probe["urls"] is { Length: > 0 } || probe["ASPNETCORE_URLS"] is { Length: > 0 };
        if (!http)
        {
            var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
            ReplHost.AddSwitches(builder.Configuration, args);
            AddLighthouse(builder.Services, builder.Configuration);
            builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
            return builder.Build();
        }
        var web = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        ReplHost.AddSwitches(web.Configuration, args);
        AddLighthouse(web.Services, web.Configuration);
        web.Logging.AddSimpleConsole(console => console.SingleLine = true);
        var app = web.Build();
        app.MapGet("/healthz", LiveAsync);
        app.MapGet("/readyz", ReadyAsync);
        app.MapGet("/cluster", ViewAsync);
        return app;
    }

    private static void AddLighthouse(IServiceCollection services, IConfiguration configuration)
    {
        var settings = AkkaClusterSettings.From(configuration, clusterMode: true);
        services.AddHealthChecks();
        services.AddAkka(AkkaClusterSettings.SystemName, akka =>
        {
            string hocon = Path.Combine(AppContext.BaseDirectory, "hocon");
            akka.AddHoconFile(Path.Combine(hocon, "lighthouse.hocon"), HoconAddMode.Append)
                .AddHoconFile(Path.Combine(hocon, "cluster.hocon"), HoconAddMode.Append)
                .AddHoconFile(Path.Combine(hocon, "repl.hocon"), HoconAddMode.Append)
                .ConfigureLoggers(loggers => loggers.ClearLoggers().AddLoggerFactory())
                .WithReplRemoting(settings)
                .WithActorSystemLivenessCheck()
                .WithAkkaClusterReadinessCheck()
                // A proxy (no entity lives here) only so /cluster can show the shard distribution from a lighthouse too.
                .WithShardRegionProxy<TopicProtocol.Key>("topics", AkkaClusterSettings.BrokerRole, new TopicMessageExtractor(ReplActorSystem.TopicShards));
            if (configuration.GetSection("akka").Exists()) akka.AddHocon(configuration.GetSection("akka"), HoconAddMode.Prepend);
        });
    }

    private static async Task<IResult> LiveAsync(HealthCheckService checks, CancellationToken cancellationToken)
    {
        var report = await checks.CheckHealthAsync(check => check.Tags.Contains("liveness"), cancellationToken);
        return report.Status == HealthStatus.Healthy ? TypedResults.Json(new LighthouseHealth("live"), LighthouseJsonContext.Default.LighthouseHealth) : ApiError.Of(StatusCodes.Status503ServiceUnavailable, "not live", "the actor system is not running");
    }

    /// <summary>Ready once an Up member of the cluster; answers at once (no I/O).</summary>
    private static IResult ReadyAsync(ActorSystem system) =>
        AkkaClusterView.NotUp(system) is { } notUp ? ApiError.Of(StatusCodes.Status503ServiceUnavailable, "not ready", notUp) : TypedResults.Json(new LighthouseHealth("ready"), LighthouseJsonContext.Default.LighthouseHealth);

    private static async Task<IResult> ViewAsync(ActorSystem system, ActorRegistry actors, CancellationToken cancellationToken)
    {
        var akka = await AkkaClusterView.BuildAsync(system, actors, cancellationToken);
        string status = AkkaClusterView.NotUp(system) is null ? "up" : akka.SelfStatus;
        return TypedResults.Json(new ClusterView("lighthouse", akka.Self, 0, 0, status, [], null, akka), ClusterJsonContext.Default.ClusterView);
    }
}
