using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Repl.Actors.Log;

/// <summary>
/// The engine's instruments (meter <c>Repl.Actors</c>, from the node's <see cref="IMeterFactory"/>) and its spans
/// (activity source <c>Repl.Actors</c>): one per log write, one per applied batch — batch-level, off the per-message
/// and per-subscriber paths.
/// </summary>
/// <remarks>
/// <see cref="Activity.Current"/> does not cross a mailbox, so a publish's trace travels inside its command
/// (<see cref="PublishCommand.TraceParent"/>, W3C); a write has many publishers, so its span links to each of them
/// rather than having a parent. With tracing off nobody listens to the source and no span is made.
/// </remarks>
public sealed class EngineTelemetry : IDisposable
{
    /// <summary>The engine's meter and activity source name (exported beside the host's <c>Repl</c>).</summary>
    public const string MeterName = "Repl.Actors";

    public EngineTelemetry(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        CommitDuration = meter.CreateHistogram<double>("repl.commit.duration", "s", "Time to append one batch to the log");
        BatchSize = meter.CreateHistogram<long>("repl.commit.batch", "{entry}", "Entries per log write");
        SnapshotFailures = meter.CreateCounter<long>("repl.snapshot.failures", "{snapshot}", "Sequencer snapshots that failed to save");
    }

    public Histogram<double> CommitDuration { get; }

    public Histogram<long> BatchSize { get; }

    /// <summary>Snapshots the sequencer failed to save: recovery then replays from an older one, a longer tail.</summary>
    public Counter<long> SnapshotFailures { get; }

    public ActivitySource Source { get; } = new(MeterName);

    /// <summary>Starts a span linked to the given W3C trace parents, without making it the thread's current activity.</summary>
    /// <returns>Null when nobody listens (tracing off).</returns>
    public Activity? StartLinked(string name, IEnumerable<string?> parents, IEnumerable<ActivityContext>? contexts = null)
    {
        if (!Source.HasListeners()) return null;
        var links = new List<ActivityLink>();
        foreach (var parent in parents)
        {
            if (parent is not null && ActivityContext.TryParse(parent, null, out var context)) links.Add(new ActivityLink(context));
        }
        foreach (var context in contexts ?? []) links.Add(new ActivityLink(context));
        var previous = Activity.Current;
        var activity = Source.StartActivity(name, ActivityKind.Internal, default(ActivityContext), links: links);
        // An actor's thread runs other actors next: the span is carried by the actor, not the thread.
        Activity.Current = previous;
        return activity;
    }

    public void Dispose() => Source.Dispose();
}
