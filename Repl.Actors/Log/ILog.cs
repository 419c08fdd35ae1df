namespace Repl.Actors.Log;

/// <summary>
/// A totally ordered, durable sequence of commands. Standalone: the local journal (<see cref="SqliteLog"/>);
/// cluster: etcd, ordered by its Raft leader.
/// </summary>
/// <remarks>
/// Every method returns only after the command is committed: durable in the journal, or accepted by
/// an etcd quorum. Committed entries reach the <see cref="Topics.Applier"/> through <see cref="ReadAsync"/>
/// in position order, on every node alike.
/// </remarks>
public interface ILog : IAsyncDisposable
{
    /// <summary>Appends a batch of publishes as one commit.</summary>
    /// <returns>
    /// The position of each command, in order; 0 where the log already knows the topic did not exist at that point.
    /// A log that cannot tell (etcd) leaves that to the applier, which skips the publish (<see cref="Topics.TopicRegistry.WasSkipped"/>).
    /// </returns>
    ValueTask<long[]> AppendAsync(IReadOnlyList<PublishCommand> batch, CancellationToken cancellationToken);

    /// <summary>Creates a topic; returns its position, or 0 when it already exists.</summary>
    ValueTask<long> CreateTopicAsync(string name, CancellationToken cancellationToken);

    /// <summary>Deletes a topic and its history; returns the position of the deletion, or 0 when there was no such topic.</summary>
    ValueTask<long> DeleteTopicAsync(string name, CancellationToken cancellationToken);

    /// <summary>Committed entries after <paramref name="after"/>, in order, in the batches they were committed in.</summary>
    IAsyncEnumerable<IReadOnlyList<LogEntry>> ReadAsync(long after, CancellationToken cancellationToken);
}
