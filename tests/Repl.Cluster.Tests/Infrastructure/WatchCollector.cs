using Repl.Actors.Cluster.Etcd;

namespace Repl.Cluster.Tests.Infrastructure;

/// <summary>Reads a watch until enough events arrived, bounded by a timeout.</summary>
public static class WatchCollector
{
    public static async Task<List<WatchEvent>> CollectAsync(IAsyncEnumerable<WatchBatch> watch, int count, TimeSpan? timeout = null, List<WatchBatch>? batches = null)
    {
        var events = new List<WatchEvent>();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            await foreach (var batch in watch.WithCancellation(cts.Token))
            {
                batches?.Add(batch);
                events.AddRange(batch.Events);
                if (events.Count >= count)
                {
                    return events;
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
        }

        throw new TimeoutException($"Watch delivered {events.Count} of {count} events in time: {string.Join(", ", events.Select(e => e.Kv))}");
    }
}
