using System.Globalization;
using System.Text;
using Repl.Actors.Topics;
using Repl.Host.Node;

namespace Repl.Host.Metrics;

/// <summary><c>GET /metrics</c>: the node's counters in the Prometheus text exposition format (0.0.4).</summary>
internal static class MetricsEndpoint
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Per-topic gauges are written for this many topics at most (the most subscribed), to bound the series count.</summary>
    public const int TopTopics = 20;

    public static void Map(IEndpointRouteBuilder routes) =>
        routes.MapGet("/metrics", (ReplNode node, ReplMetrics metrics) => Results.Text(Render(node, metrics), ContentType));

    public static string Render(ReplNode node, ReplMetrics metrics)
    {
        var text = new StringBuilder(4096);
        var topics = node.Registry.All.ToList();
        var streams = node.Streams;

        Counter(text, "repl_published_total", "Messages applied on this node, all topics.", metrics.Published(topics));
        Gauge(text, "repl_committed_position", "Last position committed to the journal.", node.Journal.LastPosition);
        Gauge(text, "repl_applied_position", "Last position applied to topics on this node.", node.Registry.AppliedPosition);
        Counter(text, "repl_delivered_total", "Messages written to SSE streams.", streams.Delivered);
        Counter(text, "repl_stream_writes_total", "Writes to SSE streams that carried messages (delivered / writes = messages per write).", streams.Writes);
        Gauge(text, "repl_streams_open", "Open SSE streams.", streams.Open);
        Counter(text, "repl_subscribers_cut_off_total", "Streams closed because their client stopped reading.", streams.CutOff);
        Counter(text, "repl_gaps_total", "Gap events sent (a resume point no longer retained).", streams.Gaps);
        Gauge(text, "repl_topics", "Topics on this node (internal topics excluded).", topics.Count(topic => !TopicName.IsInternal(topic.Name)));
        Gauge(text, "repl_journal_bytes", "Size of the journal database file.", node.Journal.SizeBytes());

        Header(text, "repl_topic_subscribers", "gauge", $"Subscribers per topic, for the {TopTopics} most subscribed topics.");
        foreach (var topic in topics.Where(topic => !TopicName.IsInternal(topic.Name))
                     .OrderByDescending(topic => topic.SubscriberCount).ThenByDescending(topic => topic.Published).ThenBy(topic => topic.Name, StringComparer.Ordinal)
                     .Take(TopTopics))
        {
            text.Append("repl_topic_subscribers{topic=\"").Append(EscapeLabel(topic.Name)).Append("\"} ").Append(topic.SubscriberCount).Append('\n');
        }

        metrics.CommitLatency.WriteTo(text, "repl_commit_duration_seconds", "Time to append one batch to the log (group commit).");
        metrics.PublishLatency.WriteTo(text, "repl_publish_duration_seconds", "HTTP publish, from request to acknowledgement (committed and applied).");

        Header(text, "repl_http_requests_total", "counter", "HTTP responses by status class.");
        for (int statusClass = 1; statusClass <= 5; statusClass++)
        {
            text.Append("repl_http_requests_total{code=\"").Append(statusClass).Append("xx\"} ").Append(metrics.Responses(statusClass)).Append('\n');
        }

        Header(text, "repl_rejected_total", "counter", "Requests refused before their handler, by reason.");
        foreach (var reason in Enum.GetValues<Rejection>())
        {
            text.Append("repl_rejected_total{reason=\"").Append(ReasonLabel(reason)).Append("\"} ").Append(metrics.Rejected(reason)).Append('\n');
        }

        Gauge(text, "repl_process_managed_bytes", "Managed heap in use (GC.GetTotalMemory).", GC.GetTotalMemory(false));
        Gauge(text, "repl_process_working_set_bytes", "Process working set.", Environment.WorkingSet);
        return text.ToString();
    }

    /// <summary>Escapes a label value: backslash, double quote and line feed (the exposition format's rule).</summary>
    public static string EscapeLabel(string value)
    {
        if (value.AsSpan().IndexOfAny("\\\"\n") < 0) return value;
        var escaped = new StringBuilder(value.Length + 8);
        foreach (char c in value)
        {
            escaped.Append(c switch
            {
                '\\' => "\\\\",
                '"' => "\\\"",
                '\n' => "\\n",
                _ => c.ToString(),
            });
        }
        return escaped.ToString();
    }

    private static string ReasonLabel(Rejection reason) => reason switch
    {
        Rejection.Unauthorized => "unauthorized",
        Rejection.Forbidden => "forbidden",
        Rejection.RateLimited => "rate_limited",
        Rejection.StreamsPerIp => "streams_per_ip",
        Rejection.MaxStreams => "max_streams",
        _ => reason.ToString(),
    };

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Counter(StringBuilder text, string name, string help, long value)
    {
        Header(text, name, "counter", help);
        text.Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }

    private static void Gauge(StringBuilder text, string name, string help, long value)
    {
        Header(text, name, "gauge", help);
        text.Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }
}
