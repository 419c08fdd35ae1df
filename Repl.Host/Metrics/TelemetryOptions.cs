namespace Repl.Host.Metrics;

/// <summary>The <c>Telemetry</c> section: where traces (and pushed metrics) go, and how <c>/metrics</c> is served.</summary>
internal sealed class TelemetryOptions
{
    /// <summary>
    /// An OpenTelemetry collector's OTLP endpoint (e.g. <c>http://collector:4317</c>): traces and metrics are pushed
    /// there. Empty: the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is used when set, else nothing is pushed.
    /// The protocol and headers follow the standard <c>OTEL_EXPORTER_OTLP_*</c> variables.
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Writes every finished span to standard output (for a look at one publish's trace, not for production).</summary>
    public bool Console { get; set; }

    /// <summary>
    /// How long the exporter serves a scrape's text again to further scrapes; 0 renders every scrape afresh, as the
    /// node's own <c>/metrics</c> did. A few hundred milliseconds protect a node scraped by many collectors at once.
    /// </summary>
    public int ScrapeCacheMilliseconds { get; set; }
}
