using System.Diagnostics;

namespace Repl.Host.Metrics;

/// <summary>The host's <see cref="ActivitySource"/>: one span per publish request (single or batch).</summary>
/// <remarks>
/// <para>One source per host, owned by the container, rather than a static: it is disposed with the node.
/// <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null unless a tracer provider listens, which
/// happens only when <c>Telemetry:OtlpEndpoint</c> (or <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>) or <c>Telemetry:Console</c>
/// is set: with tracing off a publish pays one listener check.</para>
/// <para>With tracing on, ASP.NET Core's request activity is listened to as well, so a caller's W3C
/// <c>traceparent</c> becomes the publish span's parent.</para>
/// <para>The trace stops at the host today. The seam to carry it on (commit and delivery, across actor hops): capture
/// <see cref="Activity.Current"/>'s <see cref="ActivityContext"/> into each publish command where
/// <c>Repl.Host.Api.PublishInput</c> builds it; the sequencer starts one span per batch with a link to every
/// command's context (a batch has many parents, so links rather than a parent), and the applier/fan-out one
/// span per applied batch linked to that commit span — batch-level, off the per-subscriber loop.</para>
/// </remarks>
internal sealed class ReplTracing : IDisposable
{
    private readonly ActivitySource _source = new(ReplTelemetry.Name);

    /// <summary>Starts the span of a publish of <paramref name="messages"/> messages to <paramref name="topic"/>; null when nobody listens.</summary>
    public Activity? StartPublish(string topic, int messages)
    {
        if (!_source.HasListeners()) return null;
        var activity = _source.StartActivity(messages == 1 ? "publish" : "publish batch", ActivityKind.Producer);
        if (activity is null) return null;
        // OpenTelemetry's messaging conventions, so a tracing backend shows these spans as a broker's sends.
        activity.SetTag("messaging.system", "repl");
        activity.SetTag("messaging.operation.type", "send");
        activity.SetTag("messaging.destination.name", topic);
        if (messages != 1) activity.SetTag("messaging.batch.message_count", messages);
        return activity;
    }

    /// <summary>Notes the committed positions on the span, or why the publish failed.</summary>
    public static void Committed(Activity? activity, long first, long last)
    {
        if (activity is null) return;
        activity.SetTag("repl.position.first", first);
        activity.SetTag("repl.position.last", last);
    }

    public static void Failed(Activity? activity, string reason)
    {
        activity?.SetStatus(ActivityStatusCode.Error, reason);
    }

    public void Dispose() => _source.Dispose();
}
