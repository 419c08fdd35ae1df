using System.Diagnostics;
using System.Diagnostics.Metrics;
using Repl.Actors.Actors;
using Repl.Actors.Topics;

namespace Repl.Actors.Log;

/// <summary>
/// Collects publish commands and appends them to the log in batches (group commit): while one append is in
/// flight, the next batch fills in the mailbox.
/// </summary>
/// <remarks>
/// Several appends may be in flight (<see cref="SequencerOptions.MaxInFlight"/>, cluster mode): batches cut while
/// others commit are concurrent publishes, so the log may order them either way; a publisher that waits for its
/// acknowledgement before publishing again still sees its messages in order.
/// A publish completes only after its batch is committed <em>and</em> applied on this node, so the
/// publisher's next read (history, a new stream) already sees it. A batch that fails to commit fails every
/// publish in it; none is acknowledged.
/// </remarks>
public sealed class Sequencer : Actor<Sequencer.Pending>
{
    // Read by /metrics (repl_commit_duration_seconds) through a MeterListener; OpenTelemetry can export it too.
    private static readonly Meter Meter = new("Repl.Actors");
    private static readonly Histogram<double> CommitDuration = Meter.CreateHistogram<double>("repl.commit.duration", "s", "Time to append one batch to the log");

    private readonly ILog _log;
    private readonly TopicRegistry _registry;
    private readonly SequencerOptions _options;
    private readonly SemaphoreSlim _inFlight;

    public Sequencer(ILog log, TopicRegistry registry, SequencerOptions options) : base(options.MaxQueued)
    {
        _log = log;
        _registry = registry;
        _options = options;
        _inFlight = new SemaphoreSlim(Math.Max(1, options.MaxInFlight));
    }

    /// <summary>Publishes as one commit; returns each command's position (0 where the topic was gone).</summary>
    public async Task<long[]> PublishAsync(PublishCommand[] commands, CancellationToken cancellationToken = default)
    {
        var pending = new Pending(commands, new TaskCompletionSource<long[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        await TellAsync(pending, cancellationToken).ConfigureAwait(false);
        return await pending.Completion.Task.ConfigureAwait(false);
    }

    protected override async ValueTask HandleAsync(Pending first)
    {
        // At most MaxInFlight appends at once; while they are all busy, publishes queue in the mailbox.
        await _inFlight.WaitAsync().ConfigureAwait(false);
        List<Pending> batch = [first];
        List<PublishCommand> commands = [.. first.Commands];
        // Everything that queued up while the previous append was in flight goes into this one.
        while (commands.Count < _options.MaxBatch && TryTakeNext(out var next))
        {
            batch.Add(next);
            commands.AddRange(next.Commands);
        }
        var append = AppendAsync(batch, commands);
        if (_options.MaxInFlight <= 1) await append.ConfigureAwait(false);
    }

    private async Task AppendAsync(List<Pending> batch, List<PublishCommand> commands)
    {
        long[] positions;
        try
        {
            long started = Stopwatch.GetTimestamp();
            positions = await _log.AppendAsync(commands, CancellationToken.None).ConfigureAwait(false);
            CommitDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
        catch (Exception error)
        {
            foreach (var pending in batch) pending.Completion.TrySetException(error);
            return;
        }
        finally
        {
            _inFlight.Release();
        }
        AcknowledgeWhenApplied([.. batch], positions);
    }

    /// <summary>Shutdown: the appends still in flight finish (and are acknowledged) before the log closes.</summary>
    protected override async ValueTask OnStoppedAsync()
    {
        for (int i = 0; i < Math.Max(1, _options.MaxInFlight); i++) await _inFlight.WaitAsync().ConfigureAwait(false);
    }

    /// <remarks>
    /// A publish the applier skipped gets position 0, as if its topic had been gone at append: in a cluster the topic
    /// check before the append can race a delete on another node, and the message is then in the log but on no topic.
    /// </remarks>
    private void AcknowledgeWhenApplied(Pending[] batch, long[] positions) =>
        _registry.WhenApplied(positions.Max(), () =>
        {
            for (int i = 0; i < positions.Length; i++)
            {
                if (positions[i] > 0 && _registry.WasSkipped(positions[i])) positions[i] = 0;
            }
            int offset = 0;
            foreach (var pending in batch)
            {
                pending.Completion.TrySetResult(positions[offset..(offset + pending.Commands.Length)]);
                offset += pending.Commands.Length;
            }
        });

    /// <summary>A publish waiting for its batch.</summary>
    public sealed record Pending(PublishCommand[] Commands, TaskCompletionSource<long[]> Completion);
}
