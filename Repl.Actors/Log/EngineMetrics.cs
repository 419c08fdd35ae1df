using System.Diagnostics.Metrics;

namespace Repl.Actors.Log;

/// <summary>The engine's instruments, on meter <c>Repl.Actors</c> from the node's <see cref="IMeterFactory"/>.</summary>
public sealed class EngineMetrics
{
    /// <summary>The engine's meter name (exported beside the host's <c>Repl</c>).</summary>
    public const string MeterName = "Repl.Actors";

    public EngineMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        CommitDuration = meter.CreateHistogram<double>("repl.commit.duration", "s", "Time to append one batch to the log");
        BatchSize = meter.CreateHistogram<long>("repl.commit.batch", "{entry}", "Entries per log write");
    }

    public Histogram<double> CommitDuration { get; }

    public Histogram<long> BatchSize { get; }
}
