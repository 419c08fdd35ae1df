using Akka.Actor;
using Akka.Coordination;
using Akka.Event;
using Akka.Hosting;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;

namespace Repl.Actors.Persistence;

/// <summary>
/// An Akka.Coordination <see cref="Akka.Coordination.Lease"/> held in etcd: the key <c>{prefix}/leases/{lease name}</c>, created under an
/// etcd lease whose TTL is the lease's <c>heartbeat-timeout</c> and kept alive every <c>heartbeat-interval</c>.
/// </summary>
/// <remarks>
/// <para><b>Acquire</b> creates the key only if it does not exist (a transaction on its create revision): one owner at a
/// time, and a dead owner's key goes when its etcd lease expires. The sequencer's singleton holds one
/// (<c>akka.cluster.singleton.use-lease</c>), so the singleton runs only where the lease is held.</para>
/// <para><b>Fencing.</b> With <c>fence-log = on</c> (the sequencer's lease) the holder's key and token go to
/// <see cref="EtcdStore.Fence"/>, and every log transaction compares them: the lease alone carries no fencing token,
/// and a node that lost it, or a zombie after a partition whose keep-alives stopped, would otherwise still write.</para>
/// <para><b>Loss.</b> When keep-alives have failed for longer than the TTL, or etcd says the lease is gone, the lease
/// is lost: the fence is withdrawn and the owner's callback runs (the singleton manager then stops the singleton).</para>
/// </remarks>
public sealed class EtcdLease : Akka.Coordination.Lease
{
    private readonly EtcdStore _store;
    private readonly ILoggingAdapter _log;
    private readonly ByteString _key;
    private readonly bool _fencesLog;
    private readonly Lock _gate = new();
    private Held? _held;

    public EtcdLease(LeaseSettings settings, ExtendedActorSystem system) : base(settings)
    {
        _store = EtcdStore.Of(system);
        _log = Logging.GetLogger(system, typeof(EtcdLease));
        _key = _store.LeaseKey(settings.LeaseName);
        _fencesLog = settings.LeaseConfig.GetBoolean("fence-log", false);
    }

    private TimeSpan Ttl => Settings.TimeoutSettings.HeartbeatTimeout;

    public override Task<bool> Acquire() => Acquire(null);

    public override async Task<bool> Acquire(Action<Exception?>? leaseLostCallback)
    {
        if (CheckLease()) return true;
        var client = _store.Client;
        var deadline = DateTime.UtcNow + Settings.TimeoutSettings.OperationTimeout;
        try
        {
            long ttlSeconds = Math.Max(2, (long)Math.Ceiling(Ttl.TotalSeconds));
            var grant = await client.LeaseGrantAsync(new LeaseGrantRequest { TTL = ttlSeconds }, deadline: deadline).ConfigureAwait(false);
            var token = ByteString.CopyFromUtf8($"{Settings.OwnerName}#{grant.ID:x}");
            var txn = new TxnRequest();
            txn.Compare.Add(new Compare { Key = _key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _key, Value = token, Lease = grant.ID } });
            txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = _key } });
            var result = await client.TransactionAsync(txn, deadline: deadline).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                await RevokeAsync(grant.ID).ConfigureAwait(false);
                var holder = result.Responses[0].ResponseRange.Kvs.FirstOrDefault()?.Value.ToStringUtf8();
                _log.Info("Lease {0} is held by {1}; {2} waits for it", Settings.LeaseName, holder ?? "(gone meanwhile)", Settings.OwnerName);
                return false;
            }
            var held = new Held(grant.ID, token, leaseLostCallback);
            lock (_gate) _held = held;
            if (_fencesLog) _store.Fence = new EtcdFence(_key, token);
            _ = KeepAliveAsync(held);
            _log.Info("Lease {0} acquired by {1}", Settings.LeaseName, Settings.OwnerName);
            return true;
        }
        catch (Exception error) when (error is RpcException or OperationCanceledException)
        {
            throw new LeaseException($"acquiring lease {Settings.LeaseName} in etcd failed: {error.Message}", error);
        }
    }

    public override async Task<bool> Release()
    {
        Held? held;
        lock (_gate)
        {
            held = _held;
            _held = null;
        }
        if (held is null) return false;
        Withdraw(held);
        await held.Stop.CancelAsync().ConfigureAwait(false);
        await RevokeAsync(held.LeaseId).ConfigureAwait(false);
        return true;
    }

    public override bool CheckLease()
    {
        lock (_gate) return _held is not null;
    }

    private async Task KeepAliveAsync(Held held)
    {
        var interval = Settings.TimeoutSettings.HeartbeatInterval;
        var renewed = DateTime.UtcNow;
        while (!held.Stop.IsCancellationRequested)
        {
            try
            {
                using var call = _store.Client.GetConnection().LeaseClient.LeaseKeepAlive(cancellationToken: held.Stop.Token);
                while (!held.Stop.IsCancellationRequested)
                {
                    using var attempt = CancellationTokenSource.CreateLinkedTokenSource(held.Stop.Token);
                    attempt.CancelAfter(Settings.TimeoutSettings.OperationTimeout);
                    await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = held.LeaseId }, attempt.Token).ConfigureAwait(false);
                    if (!await call.ResponseStream.MoveNext(attempt.Token).ConfigureAwait(false)) break;
                    if (call.ResponseStream.Current.TTL <= 0)
                    {
                        Lost(held, new LeaseException($"lease {Settings.LeaseName}: etcd says its lease expired"));
                        return;
                    }
                    renewed = DateTime.UtcNow;
                    await Task.Delay(interval, held.Stop.Token).ConfigureAwait(false);
                }
            }
            catch (Exception) when (held.Stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception error)
            {
                _log.Warning("Keeping lease {0} alive failed: {1}", Settings.LeaseName, error.Message);
            }
            if (DateTime.UtcNow - renewed > Ttl)
            {
                Lost(held, new LeaseTimeoutException($"lease {Settings.LeaseName}: not renewed for {Ttl.TotalSeconds:0.#} s (etcd unreachable)"));
                return;
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), held.Stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Lost(Held held, Exception reason)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_held, held)) return;
            _held = null;
        }
        Withdraw(held);
        held.Stop.Cancel();
        _log.Warning("Lease {0} lost by {1}: {2}", Settings.LeaseName, Settings.OwnerName, reason.Message);
        held.LostCallback?.Invoke(reason);
    }

    private void Withdraw(Held held)
    {
        if (_fencesLog && _store.Fence?.Token == held.Token) _store.Fence = null;
    }

    private async Task RevokeAsync(long leaseId)
    {
        try
        {
            // Revoking deletes the key at once: the next owner need not wait for the TTL.
            await _store.Client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = leaseId }, deadline: DateTime.UtcNow + Settings.TimeoutSettings.OperationTimeout)
                .ConfigureAwait(false);
        }
        catch (RpcException error)
        {
            _log.Warning("Revoking etcd lease {0:x} of {1} failed (it expires by itself): {2}", leaseId, Settings.LeaseName, error.Status.Detail);
        }
    }

    private sealed record Held(long LeaseId, ByteString Token, Action<Exception?>? LostCallback)
    {
        public CancellationTokenSource Stop { get; } = new();
    }
}

/// <summary>
/// Akka.Hosting's handle on an <see cref="EtcdLease"/> configured at <paramref name="configPath"/> (timings and
/// <c>fence-log</c> in <c>hocon/broker.hocon</c>), for <c>ClusterSingletonOptions.LeaseImplementation</c>.
/// </summary>
public sealed class EtcdLeaseOption(string configPath) : Akka.Hosting.Coordination.LeaseOptionBase
{
    /// <summary>The sequencer's lease: the one whose holder may write the log (<c>fence-log = on</c>).</summary>
    public static readonly EtcdLeaseOption Sequencer = new("repl.sequencer-lease");

    public override string ConfigPath { get; } = configPath;

    public override Type Class => typeof(EtcdLease);

    public override void Apply(Akka.Hosting.AkkaConfigurationBuilder builder, Akka.Actor.Setup.Setup? setup = null) =>
        builder.AddHocon($"{ConfigPath}.lease-class = \"{Class.FullName}, {Class.Assembly.GetName().Name}\"", HoconAddMode.Append);
}
