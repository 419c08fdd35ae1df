namespace Repl.Actors.Cluster.Etcd;

/// <summary>
/// A client for etcd's v3 API over its JSON gateway (<c>/v3/...</c>, etcd ≥ 3.4),
/// with endpoint failover.
/// </summary>
/// <remarks>
/// <para>
/// Every call starts at the current endpoint. A connection failure, an attempt timeout
/// (<see cref="EtcdOptions.AttemptTimeout"/>), a 5xx or 429 answer, or a broken answer makes
/// the client rotate to the next endpoint and try again, cycling with a short backoff,
/// until <see cref="EtcdOptions.RequestTimeout"/> has passed; then the call throws
/// <see cref="EtcdUnavailableException"/>. A 4xx gateway error (<c>{"error","code","message"}</c>)
/// is etcd refusing the request and is thrown at once as <see cref="EtcdException"/>.
/// </para>
/// <para>
/// Retried writes are not deduplicated: a put or transaction whose attempt timed out may
/// have been applied before the client moved on, and then it is applied again. Callers that
/// need exactly-once guard the write with a <see cref="TxnCompare"/> (for instance on the
/// mod revision of a sequence key) so a replay fails its compare instead of writing twice.
/// </para>
/// <para>Thread-safe; meant to be shared for the process's lifetime.</para>
/// </remarks>
public sealed partial class EtcdClient : IAsyncDisposable
{
    /// <summary>
    /// etcd's default <c>--max-txn-ops</c>: a transaction with more operations in one branch is
    /// refused ("too many operations in txn request"). Callers split larger batches.
    /// </summary>
    public const int DefaultMaxTxnOps = 128;

    private readonly EtcdOptions _options;
    private readonly Uri[] _endpoints;
    private readonly string[] _baseUrls;
    private readonly HttpClient _http;
    private int _current;

    /// <summary>Creates a client; no connection is made until the first call.</summary>
    public EtcdClient(EtcdOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Endpoints is null || options.Endpoints.Count == 0)
        {
            throw new ArgumentException("At least one etcd endpoint is required.", nameof(options));
        }

        if (options.RequestTimeout <= TimeSpan.Zero || options.AttemptTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("RequestTimeout and AttemptTimeout must be positive.", nameof(options));
        }

        _options = options;
        _endpoints = [.. options.Endpoints];
        _baseUrls = Array.ConvertAll(_endpoints, e => e.AbsoluteUri.TrimEnd('/'));

        // HTTP/1.1 on purpose: etcd multiplexes its client port, and HTTP/2 would be routed
        // to the gRPC server rather than to the JSON gateway.
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The configured endpoints.</summary>
    public IReadOnlyList<Uri> Endpoints => _endpoints;

    /// <summary>The endpoint the next call starts with.</summary>
    public Uri CurrentEndpoint => _endpoints[Volatile.Read(ref _current)];

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
