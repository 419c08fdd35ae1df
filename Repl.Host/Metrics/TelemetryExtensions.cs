using System.Diagnostics.Metrics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Repl.Host.Metrics;

/// <summary>Wires OpenTelemetry into a node: metrics exported at <c>/metrics</c> (Prometheus) and, when configured, OTLP; traces when configured.</summary>
internal static class TelemetryExtensions
{
    public const string ScrapePath = "/metrics";

    /// <summary>The standard variable OpenTelemetry's exporters read when no endpoint is given in code.</summary>
    private const string StandardOtlpEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static void AddReplTelemetry(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var section = builder.Configuration.GetSection("Telemetry");
        services.Configure<TelemetryOptions>(section);
        services.AddSingleton<ReplMetrics>();
        services.AddSingleton<NodeInstruments>();
        services.AddSingleton<ReplTracing>();

        var options = section.Get<TelemetryOptions>() ?? new TelemetryOptions();
        string? otlp = string.IsNullOrWhiteSpace(options.OtlpEndpoint) ? builder.Configuration[StandardOtlpEndpoint] : options.OtlpEndpoint;
        bool push = !string.IsNullOrWhiteSpace(otlp);

        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("repl", serviceInstanceId: builder.Configuration["Node:Id"] ?? Environment.MachineName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(ReplTelemetry.Name, ReplTelemetry.EngineMeter)
                    .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = Math.Max(0, options.ScrapeCacheMilliseconds));
                if (push) metrics.AddOtlpExporter(otlpOptions => otlpOptions.Endpoint = new Uri(otlp!));
                // OpenTelemetry picks meters by name alone: with several nodes in one process (the tests), each node's
                // provider would also export the other nodes' meters. Keep this container's own.
                ((IDeferredMeterProviderBuilder)metrics).Configure((provider, builder) =>
                {
                    var own = provider.GetRequiredService<IMeterFactory>();
                    // One view for both concerns: when several views match, OpenTelemetry exports a stream for each.
                    builder.AddView(instrument =>
                        instrument.Meter.Scope is IMeterFactory factory && factory != own ? MetricStreamConfiguration.Drop
                        // The engine's histogram is made without bucket advice: the bounds are the host's to choose.
                        : instrument.Name == ReplTelemetry.CommitInstrument ? new ExplicitBucketHistogramConfiguration { Boundaries = ReplTelemetry.LatencyBuckets }
                        : null);
                });
            });

        // No tracer provider at all unless asked: then nothing listens to the sources and a publish makes no span.
        if (!push && !options.Console) return;
        telemetry.WithTracing(tracing =>
        {
            // ASP.NET Core's request activity carries the caller's traceparent; the publish span becomes its child.
            tracing.AddSource(ReplTelemetry.Name, ReplTelemetry.EngineMeter, "Microsoft.AspNetCore");
            if (push) tracing.AddOtlpExporter(otlpOptions => otlpOptions.Endpoint = new Uri(otlp!));
            if (options.Console) tracing.AddConsoleExporter();
        });
    }

    /// <summary>Maps <c>GET /metrics</c> to the Prometheus exporter, after starting the instruments.</summary>
    /// <remarks>
    /// The meter provider is built first, so it already listens when the instruments are made: <see cref="ReplMetrics"/>
    /// starts every status class and refusal reason at 0, and those first measurements must not be missed.
    /// The host names the authorization policy the route needs (with auth on: admin, the scrape token or an allowed
    /// address); this room knows nothing of security.
    /// </remarks>
    public static void MapReplMetrics(this WebApplication app, string scrapePolicy)
    {
        _ = app.Services.GetRequiredService<MeterProvider>();
        _ = app.Services.GetRequiredService<ReplMetrics>();
        _ = app.Services.GetRequiredService<NodeInstruments>();
        // The exporter maps every method; a scrape is a GET (anything else gets the usual 405 with Allow).
        app.MapPrometheusScrapingEndpoint(ScrapePath).RequireAuthorization(scrapePolicy)
            .WithMetadata(new HttpMethodMetadata([HttpMethods.Get]));
    }
}
