using Microsoft.Extensions.Logging;
using Repl.Actors.Topics;

namespace Repl.Actors.Journal;

/// <summary>
/// Trims each topic's journal history to the configured count and age, and tells the topic how far it
/// trimmed, so that a reader resuming behind that point gets a <c>gap</c> event instead of a silent hole.
/// </summary>
public sealed class Retention(Journal journal, TopicRegistry registry, TimeProvider time, ILogger<Retention> logger)
{
    /// <summary>Trims every topic once.</summary>
    public void RunOnce()
    {
        var now = time.GetUtcNow();
        foreach (var topic in registry.All)
        {
            if (topic.IsDeleted) continue;
            try
            {
                long trimmed = journal.Trim(topic.Name, now);
                if (trimmed > topic.TrimmedThrough) topic.TrimmedThrough = trimmed;
            }
            catch (Exception error)
            {
                logger.LogWarning(error, "Retention of {Topic} failed; will retry", topic.Name);
            }
        }
    }

    /// <summary>Trims every <paramref name="interval"/> until cancelled.</summary>
    public async Task RunAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false)) RunOnce();
        }
        catch (OperationCanceledException)
        {
        }
    }
}
