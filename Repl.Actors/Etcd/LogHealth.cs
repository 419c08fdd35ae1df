namespace Repl.Actors.Etcd;

/// <summary>Whether this node can reach its log (etcd's quorum), as seen by every call that touches it.</summary>
/// <remarks>
/// Each etcd call reports its outcome: a success clears the state, the first failure after a success starts the
/// clock. <see cref="UnavailableFor"/> is how long the node has been cut off; the host ends streams (they are told
/// to retry on another node) once it passes a bound. Thread-safe.
/// </remarks>
public sealed class LogHealth(TimeProvider time)
{
    private readonly Lock _gate = new();
    private long _failingSince; // timestamp; 0 while healthy
    private string? _lastError;

    /// <summary>How long every call has failed; null while healthy.</summary>
    public TimeSpan? UnavailableFor
    {
        get
        {
            long since = Volatile.Read(ref _failingSince);
            return since == 0 ? null : time.GetElapsedTime(since);
        }
    }

    /// <summary>The last failure's message while unhealthy.</summary>
    public string? LastError => Volatile.Read(ref _failingSince) == 0 ? null : _lastError;

    public void ReportSuccess() => Volatile.Write(ref _failingSince, 0);

    /// <param name="startedAt">Timestamp when the failed call started (the node was cut off since then at least).</param>
    public void ReportFailure(Exception error, long startedAt)
    {
        lock (_gate)
        {
            _lastError = error.Message;
            if (_failingSince == 0) Volatile.Write(ref _failingSince, Math.Max(1, startedAt));
        }
    }
}
