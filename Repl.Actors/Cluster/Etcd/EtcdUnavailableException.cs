namespace Repl.Actors.Cluster.Etcd;

/// <summary>No configured endpoint answered within the request timeout.</summary>
/// <remarks>
/// For a write this does not mean the write was not applied: an attempt may have
/// reached the leader and timed out only on the way back.
/// </remarks>
public sealed class EtcdUnavailableException : EtcdException
{
    /// <summary>Creates the exception.</summary>
    public EtcdUnavailableException(string message, IReadOnlyList<Uri> endpointsTried, Exception? lastError)
        : base(message, lastError)
    {
        EndpointsTried = endpointsTried;
    }

    /// <summary>The endpoints attempted, in order, each once.</summary>
    public IReadOnlyList<Uri> EndpointsTried { get; }
}
