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
/// <para>The trace goes on through the engine inside the publish commands (<c>PublishCommand.TraceParent</c>): the
/// sequencer's <c>commit</c> span links to every publish span of its write, each node's <c>apply</c> span to the commit
/// (<see cref="Repl.Actors.Log.EngineTelemetry"/>).</para>
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

    /// <summary>
    /// Starts the span of a call to the <paramref name="hook"/> hook at <paramref name="url"/>: a child of the request's
    /// span (the current activity); null when nobody listens.
    /// </summary>
    public Activity? StartHook(string hook, Uri url)
    {
        if (!_source.HasListeners()) return null;
        var activity = _source.StartActivity("hook " + hook, ActivityKind.Client);
        activity?.SetTag("repl.hook", hook);
        activity?.SetTag("url.full", url.ToString());
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
