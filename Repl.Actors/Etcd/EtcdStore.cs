using Akka.Actor;
using Akka.DependencyInjection;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Repl.Actors.Log;

namespace Repl.Actors.Etcd;

/// <summary>
/// Where a Repl cluster keeps its log in etcd, and the one etcd client its persistence plugins and lease share: the
/// sequencer's journal (<see cref="EtcdJournal"/>), its snapshots (<see cref="EtcdSnapshotStore"/>) and its lease
/// (<see cref="EtcdCoordinationLease"/>).
/// </summary>
/// <remarks>
/// Keys under <see cref="Prefix"/>: <c>log</c> (one version per batch, <see cref="LogBatchCodec"/>),
/// <c>head</c> (the log's last position), <c>writer</c> (the token of the last log transaction), <c>topics/{name}</c> (while the topic exists),
/// <c>snapshots/{persistence id}</c>, <c>leases/{name}</c> (held under an etcd lease by the lease's owner).
/// </remarks>
public sealed class EtcdStore(EtcdConnection etcd, string prefix)
{
    private EtcdFence? _fence;

    /// <summary>The node's connection to etcd (its deadlines bound every call).</summary>
    public EtcdConnection Etcd { get; } = etcd;

    /// <summary>Key prefix of this Repl cluster (several may share one etcd), without a trailing slash.</summary>
    public string Prefix { get; } = prefix.TrimEnd('/');

    public ByteString LogKey => EtcdConnection.Key(EtcdLog.LogKey(Prefix));

    public ByteString WriterKey => Key("writer");

    /// <summary>The log's last position, as decimal text: what readiness and <c>/cluster</c> measure lag against without reading a whole batch.</summary>
    public ByteString HeadKey => EtcdConnection.Key(EtcdLog.HeadKey(Prefix));

    public ByteString TopicKey(string name) => EtcdConnection.Key(EtcdLog.TopicsPrefix(Prefix) + name);

    public ByteString SnapshotKey(string persistenceId) => Key("snapshots/" + persistenceId);

    public ByteString LeaseKey(string leaseName) => Key("leases/" + leaseName);

    /// <summary>
    /// The sequencer's lease as this node holds it, or null: every log and snapshot write compares the lease key with
    /// it, so a node that lost the lease (or a zombie after a partition) cannot commit.
    /// </summary>
    internal EtcdFence? Fence
    {
        get => Volatile.Read(ref _fence);
        set => Volatile.Write(ref _fence, value);
    }

    private ByteString Key(string name) => ByteString.CopyFromUtf8($"{Prefix}/{name}");

    /// <summary>The node's store, from the actor system's services (Akka.Hosting puts the host's provider there).</summary>
    internal static EtcdStore Of(ActorSystem system) =>
        DependencyResolver.For(system).Resolver.GetService<EtcdStore>()
        ?? throw new InvalidOperationException("no EtcdStore among the actor system's services (cluster mode sets it)");

    /// <summary>Reads one key; null when it does not exist.</summary>
    /// <exception cref="LogUnavailableException">etcd could not be asked.</exception>
    public async Task<Mvccpb.KeyValue?> GetAsync(ByteString key, CancellationToken cancellationToken) =>
        (await Mapped(() => Etcd.Client.GetAsync(new RangeRequest { Key = key }, deadline: Etcd.Deadline(), cancellationToken: cancellationToken), cancellationToken)
            .ConfigureAwait(false)).Kvs.FirstOrDefault();

    /// <summary>Runs a transaction.</summary>
    /// <exception cref="LogUnavailableException">etcd refused the request itself (too large, malformed): nothing of it was committed.</exception>
    /// <exception cref="OutcomeUnknownException">etcd did not answer (a deadline, a connection lost, no leader, a leader change):
    /// the transaction may have been applied, or may still be.</exception>
    /// <remarks>
    /// Only <c>InvalidArgument</c> is taken for a refusal: etcd checks a request's size and shape before it proposes it, and
    /// the same request gets the same answer from every member, so no earlier attempt of the channel's retries (after
    /// <c>Unavailable</c>) can have been applied either. Every other failure may follow a proposal: etcd answers "request
    /// timed out" or "leader changed" for a proposal that can still commit, a member that lost its quorum may have
    /// appended it, and a refused connection may come after an earlier attempt that went through.
    /// </remarks>
    public async Task<TxnResponse> TransactionAsync(TxnRequest txn, CancellationToken cancellationToken)
    {
        try
        {
            return await Mapped(() => Etcd.Client.TransactionAsync(txn, deadline: Etcd.Deadline(), cancellationToken: cancellationToken), cancellationToken)
                .ConfigureAwait(false);
        }
        catch (LogUnavailableException error) when (error.InnerException is not RpcException { StatusCode: StatusCode.InvalidArgument })
        {
            throw new OutcomeUnknownException(error.Message, error.InnerException);
        }
        catch (LogUnavailableException error)
        {
            throw new LogUnavailableException($"etcd refused the transaction, nothing of it was committed: {((RpcException)error.InnerException!).Status.Detail}", error.InnerException);
        }
    }

    /// <summary>
    /// A call that failed for want of etcd (unreachable, no quorum, no answer in time: a cancellation the caller's own
    /// token did not cause) becomes the 503 <see cref="LogUnavailableException"/>. So does a request etcd or its gRPC
    /// server refused (too large, malformed), named as what it is: etcd was there and said no, it was not unavailable.
    /// (<see cref="TransactionAsync"/> tells which of these may still have committed.)
    /// </summary>
    private static async Task<T> Mapped<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RpcException refused) when (refused.StatusCode is StatusCode.InvalidArgument or StatusCode.ResourceExhausted)
        {
            // Named as etcd said it (a request too large, say), not as a want of etcd. Whether a transaction so answered
            // may still have committed is TransactionAsync's call: only InvalidArgument is refused before it is proposed.
            throw new LogUnavailableException($"etcd answered {refused.StatusCode}: {refused.Status.Detail}", refused);
        }
        catch (Exception error) when (error is RpcException or HttpRequestException or IOException ||
                                      (error is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new LogUnavailableException(
                "the cluster log (etcd) is unavailable: " + (error is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : error.Message), error);
        }
    }
}

/// <summary>The sequencer's lease key and the value this node put there when it acquired it.</summary>
internal sealed record EtcdFence(ByteString Key, ByteString Token);
