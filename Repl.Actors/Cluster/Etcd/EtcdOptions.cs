namespace Repl.Actors.Cluster.Etcd;

/// <summary>How an <see cref="EtcdClient"/> reaches the cluster.</summary>
public sealed class EtcdOptions
{
    /// <summary>Client URLs of the etcd members, e.g. <c>http://10.0.0.1:2379</c>. Tried in order, rotating on failure.</summary>
    public required IReadOnlyList<Uri> Endpoints { get; init; }

    /// <summary>
    /// Upper bound on one call, failover retries included. When it passes with every
    /// endpoint failing, the call throws <see cref="EtcdUnavailableException"/>. Default 5 s.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Upper bound on one attempt against one endpoint (clamped to what is left of
    /// <see cref="RequestTimeout"/>), so a hung member cannot use up the whole call. Default 2 s.
    /// </summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>TCP connect timeout; keeps failover from a dead host fast. Default 1 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Clock for timeouts, backoff and <see cref="LeaseKeeper"/>. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Parses a comma-separated endpoint list such as <c>http://a:2379,http://b:2379</c>.</summary>
    public static EtcdOptions FromEndpoints(string commaSeparated)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commaSeparated);
        var endpoints = commaSeparated
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(e => new Uri(e, UriKind.Absolute))
            .ToArray();
        return new EtcdOptions { Endpoints = endpoints };
    }
}
