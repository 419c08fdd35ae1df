using System.Net.Http;
using System.Text;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Logging;
using Repl.Actors.Log;
using dotnet_etcd;

namespace Repl.Actors.Etcd;

/// <summary>
/// The process's connection to etcd: a dotnet-etcd <see cref="EtcdClient"/> over the configured endpoints, and the
/// request timeout every call is given as its gRPC deadline.
/// </summary>
/// <remarks>
/// <para><b>Endpoints and failover.</b> dotnet-etcd takes the comma-separated URLs as one gRPC channel with a static
/// resolver and round-robin balancing: a member that is down (connection refused, reset) drops out of the rotation,
/// and a call that failed with <c>Unavailable</c> (refused, or etcd's "no leader", "leader changed") is retried on
/// another member by the channel's retry policy (<see cref="Retry"/>). A killed member's connection is noticed within
/// <see cref="KeepAlive"/> even when its host stays silent.</para>
/// <para><b>Deadlines.</b> Every call passes <see cref="Deadline"/>: a call that cannot reach a quorum fails within
/// <see cref="RequestTimeout"/>. Reads are linearizable (dotnet-etcd's default, <c>serializable = false</c>): they
/// need the leader's read index, so a member cut off from the quorum cannot answer them.</para>
/// <para><b>Errors.</b> Failures etcd or the transport report are <see cref="RpcException"/>s: <c>Unavailable</c>
/// (no member reachable, no leader), <c>DeadlineExceeded</c> (no answer within the timeout), and etcd's refusals
/// (<c>OutOfRange</c> for a compacted revision, see <see cref="IsCompacted"/>). Cancelling a call's token throws
/// <see cref="OperationCanceledException"/> instead (dotnet-etcd sets <c>ThrowOperationCanceledOnCancellation</c>), and
/// so does the transport when it gives up on its own (a connect timeout): callers that must not let that through treat
/// an <see cref="OperationCanceledException"/> their token did not cause as etcd not answering.
/// For a write, an <see cref="RpcException"/> does not mean it was not applied: it may have committed and only the
/// answer was lost.</para>
/// <para>Thread-safe; one per process, disposed with it.</para>
/// </remarks>
public sealed class EtcdConnection : IDisposable
{
    /// <summary>HTTP/2 pings on an idle connection: a member that vanished without closing it is noticed this soon.</summary>
    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The channel's retry of a call answered <c>Unavailable</c>: 5 attempts (gRPC's most) 50–500 ms apart, within the
    /// call's deadline, and no retry throttling.
    /// </summary>
    /// <remarks>
    /// In place of dotnet-etcd's policy (1–5 s apart, throttled): its throttle turns retries off for the whole channel
    /// after a handful of failures, which one etcd member going away causes at once (every call and stream it served),
    /// and then a publish routed to that member answered 503 although the quorum was fine.
    /// </remarks>
    public static readonly MethodConfig Retry = new()
    {
        Names = { MethodName.Default },
        RetryPolicy = new RetryPolicy
        {
            MaxAttempts = 5,
            InitialBackoff = TimeSpan.FromMilliseconds(50),
            MaxBackoff = TimeSpan.FromMilliseconds(500),
            BackoffMultiplier = 2,
            RetryableStatusCodes = { StatusCode.Unavailable },
        },
    };

    /// <summary>How often the channel tries a member it cannot connect to (gRPC's default backs off to 120 s).</summary>
    public static readonly TimeSpan ReconnectBackoff = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;

    /// <param name="endpoints">Comma-separated client URLs of the etcd members (<c>http://a:2379,http://b:2379</c>).</param>
    /// <param name="requestTimeout">Deadline of every call (<c>Cluster:RequestTimeout</c>).</param>
    /// <param name="time">Clock of the deadlines.</param>
    public EtcdConnection(string endpoints, TimeSpan requestTimeout, TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(endpoints);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(requestTimeout, TimeSpan.Zero);
        Endpoints = [.. endpoints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(url => new Uri(url, UriKind.Absolute))];
        if (Endpoints.Count == 0) throw new ArgumentException("At least one etcd endpoint is required.", nameof(endpoints));
        RequestTimeout = requestTimeout;
        _time = time ?? TimeProvider.System;
        // dotnet-etcd accepts the comma-separated list itself (ConnectionStringParser); trailing slashes are normalised away.
        Client = new EtcdClient(string.Join(',', Endpoints.Select(url => url.GetLeftPart(UriPartial.Authority))), configureChannelOptions: options =>
        {
            // etcd answers a watch that is behind with up to 1,000 revisions at once, and a log batch may be 1 MiB:
            // gRPC's default 4 MB limit on a received message would fail such an answer on every retry.
            options.MaxReceiveMessageSize = null;
            // The channel retries only a call it could buffer (1 MB by default): room for the largest request etcd
            // takes (--max-request-bytes, 1.5 MiB), so a full log batch fails over like any other call.
            options.MaxRetryBufferPerCallSize = 2 << 20;
            options.ServiceConfig = new ServiceConfig { MethodConfigs = { Retry }, LoadBalancingConfigs = { new RoundRobinConfig() } };
            // A member that was down is tried again within a second of coming back. gRPC's default backoff grows to
            // 120 s, so after a long outage the channel could go on for minutes with only the members that had stayed
            // up, one more failure away from cutting the node off while the quorum is fine.
            options.InitialReconnectBackoff = ReconnectBackoff;
            options.MaxReconnectBackoff = ReconnectBackoff;
            if (options.HttpHandler is SocketsHttpHandler handler)
            {
                // No connect timeout shorter than the call's deadline: gRPC reports an expired connect timeout as
                // OperationCanceledException, not as an RpcException (seen on loopback on a machine at load ~50).
                handler.ConnectTimeout = requestTimeout;
                // dotnet-etcd's 30 s pings would leave a stream on a vanished host open for a long time.
                handler.KeepAlivePingDelay = KeepAlive;
                handler.KeepAlivePingTimeout = KeepAlive;
            }
        });
    }

    /// <summary>The dotnet-etcd client; pass <see cref="Deadline"/> to every call.</summary>
    public EtcdClient Client { get; }

    /// <summary>The configured endpoints.</summary>
    public IReadOnlyList<Uri> Endpoints { get; }

    /// <summary>Bound on one call, failover included.</summary>
    public TimeSpan RequestTimeout { get; }

    /// <summary>The deadline of a call starting now.</summary>
    public DateTime Deadline() => _time.GetUtcNow().UtcDateTime + RequestTimeout;

    /// <summary>Reads one key; null when it does not exist.</summary>
    public async Task<Mvccpb.KeyValue?> GetAsync(string key, CancellationToken cancellationToken)
    {
        var response = await Client.GetAsync(new RangeRequest { Key = Key(key) }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.Kvs.Count == 0 ? null : response.Kvs[0];
    }

    /// <summary>Puts <paramref name="value"/> at <paramref name="key"/>, under <paramref name="lease"/> unless 0.</summary>
    public Task<PutResponse> PutAsync(string key, ByteString value, long lease, CancellationToken cancellationToken) =>
        Client.PutAsync(new PutRequest { Key = Key(key), Value = value, Lease = lease }, deadline: Deadline(), cancellationToken: cancellationToken);

    /// <summary>Reads every key starting with <paramref name="prefix"/>, in key order; at <paramref name="revision"/> when not 0.</summary>
    /// <exception cref="RpcException"><see cref="IsCompacted"/> when <paramref name="revision"/> has been compacted.</exception>
    public Task<RangeResponse> GetPrefixAsync(string prefix, long revision, CancellationToken cancellationToken) =>
        Client.GetAsync(new RangeRequest { Key = Key(prefix), RangeEnd = EtcdClient.GetRangeEnd(Key(prefix)), Revision = revision },
            deadline: Deadline(), cancellationToken: cancellationToken);

    /// <summary>Asks one member for its status (no failover: the answer is about that member), within the request timeout.</summary>
    public async Task<StatusResponse> StatusOfAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        using var member = new EtcdClient(endpoint.GetLeftPart(UriPartial.Authority), configureChannelOptions: options =>
        {
            if (options.HttpHandler is SocketsHttpHandler handler) handler.ConnectTimeout = RequestTimeout;
        });
        return await member.StatusAsync(new StatusRequest(), deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A UTF-8 key.</summary>
    public static ByteString Key(string key) => ByteString.CopyFrom(key, Encoding.UTF8);

    /// <summary>
    /// Whether etcd refused the call because the revision asked for is older than its compaction point (a read or a
    /// compaction at a compacted revision: <c>OutOfRange</c>, "mvcc: required revision has been compacted").
    /// </summary>
    public static bool IsCompacted(RpcException error) => error.StatusCode == StatusCode.OutOfRange;

    public void Dispose() => Client.Dispose();

    /// <summary>
    /// Runs <paramref name="call"/> until etcd answers it: a node started while etcd has no quorum waits for it rather
    /// than failing to start. Each try that etcd did not answer is logged ("Waiting for the log") and retried after 1 s.
    /// </summary>
    public static async Task UntilAnswersAsync(Func<Task> call, ILogger logger, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        while (true)
        {
            try
            {
                await call().ConfigureAwait(false);
                return;
            }
            // A cancellation the token did not cause is the transport giving up (see Deadline): etcd did not answer.
            catch (Exception error) when (error is LogUnavailableException or RpcException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("Waiting for the log: {Message}", error.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), time ?? TimeProvider.System, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc cref="UntilAnswersAsync(Func{Task}, ILogger, CancellationToken, TimeProvider?)"/>
    public static async Task<T> UntilAnswersAsync<T>(Func<Task<T>> call, ILogger logger, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        T result = default!;
        await UntilAnswersAsync(async () => { result = await call().ConfigureAwait(false); }, logger, cancellationToken, time).ConfigureAwait(false);
        return result;
    }
}
