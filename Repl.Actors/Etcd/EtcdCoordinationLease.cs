using Akka.Actor;
using Akka.Coordination;
using Akka.Event;
using Akka.Hosting;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;

namespace Repl.Actors.Etcd;

/// <summary>
/// An Akka.Coordination <see cref="Akka.Coordination.Lease"/> held in etcd: the key <c>{prefix}/leases/{lease name}</c>, created under an
/// etcd lease (<see cref="EtcdLease"/>) whose TTL is the lease's <c>heartbeat-timeout</c>.
/// </summary>
/// <remarks>
/// <para><b>Acquire</b> creates the key only if it does not exist (a transaction on its create revision): one owner at a
/// time, and a dead owner's key goes when its etcd lease expires. The sequencer's singleton holds one
/// (<c>akka.cluster.singleton.use-lease</c>), so the singleton runs only where the lease is held.</para>
/// <para><b>Fencing.</b> With <c>fence-log = on</c> (the sequencer's lease) the holder's key and token go to
/// <see cref="EtcdStore.Fence"/>, and every log transaction compares them: the lease alone carries no fencing token,
/// and a node that lost it, or a zombie after a partition whose keep-alives stopped, would otherwise still write.</para>
/// <para><b>Loss.</b> When the etcd lease is lost (etcd says it expired, or it could not be renewed within its TTL) the
/// fence is withdrawn and the owner's callback runs (the singleton manager then stops the singleton).</para>
/// </remarks>
public sealed class EtcdCoordinationLease : Akka.Coordination.Lease
{
    private readonly EtcdStore _store;
    private readonly ILoggingAdapter _log;
    private readonly ByteString _key;
    private readonly bool _fencesLog;
    private readonly Lock _gate = new();
    private Held? _held;

    public EtcdCoordinationLease(LeaseSettings settings, ExtendedActorSystem system) : base(settings)
    {
        _store = EtcdStore.Of(system);
        _log = Logging.GetLogger(system, typeof(EtcdCoordinationLease));
        _key = _store.LeaseKey(settings.LeaseName);
        _fencesLog = settings.LeaseConfig.GetBoolean("fence-log", false);
    }

    public override Task<bool> Acquire() => Acquire(null);

    public override async Task<bool> Acquire(Action<Exception?>? leaseLostCallback)
    {
        if (CheckLease()) return true;
        using var timeout = new CancellationTokenSource(Settings.TimeoutSettings.OperationTimeout);
        EtcdLease? lease = null;
        try
        {
            lease = await EtcdLease.GrantAsync(_store.Etcd, Settings.TimeoutSettings.HeartbeatTimeout, TimeProvider.System, timeout.Token).ConfigureAwait(false);
            var token = ByteString.CopyFromUtf8($"{Settings.OwnerName}#{lease.Id:x}");
            var txn = new TxnRequest();
            txn.Compare.Add(new Compare { Key = _key, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _key, Value = token, Lease = lease.Id } });
            txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = _key } });
            var result = await _store.Etcd.Client.TransactionAsync(txn, deadline: _store.Etcd.Deadline(), cancellationToken: timeout.Token).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                var holder = result.Responses[0].ResponseRange.Kvs.FirstOrDefault()?.Value.ToStringUtf8();
                _log.Info("Lease {0} is held by {1}; {2} waits for it", Settings.LeaseName, holder ?? "(gone meanwhile)", Settings.OwnerName);
                await lease.DisposeAsync().ConfigureAwait(false);
                return false;
            }
            var held = new Held(lease, token, leaseLostCallback);
            lock (_gate) _held = held;
            if (_fencesLog) _store.Fence = new EtcdFence(_key, token);
            _ = lease.Lost.ContinueWith(lost => Lose(held, lost.Result), TaskScheduler.Default);
            _log.Info("Lease {0} acquired by {1}", Settings.LeaseName, Settings.OwnerName);
            return true;
        }
        catch (Exception error) when (error is RpcException or OperationCanceledException)
        {
            if (lease is not null) await lease.DisposeAsync().ConfigureAwait(false);
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
        // Revokes the etcd lease: the key goes at once, and the next owner need not wait for the TTL.
        await held.Lease.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    public override bool CheckLease()
    {
        lock (_gate) return _held is not null;
    }

    private void Lose(Held held, Exception reason)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_held, held)) return;
            _held = null;
        }
        Withdraw(held);
        _log.Warning("Lease {0} lost by {1}: {2}", Settings.LeaseName, Settings.OwnerName, reason.Message);
        held.LostCallback?.Invoke(reason);
    }

    private void Withdraw(Held held)
    {
        if (_fencesLog && _store.Fence?.Token == held.Token) _store.Fence = null;
    }

    private sealed record Held(EtcdLease Lease, ByteString Token, Action<Exception?>? LostCallback);
}

/// <summary>
/// Akka.Hosting's handle on an <see cref="EtcdCoordinationLease"/> configured at <paramref name="configPath"/> (timings and
/// <c>fence-log</c> in <c>hocon/broker.hocon</c>), for <c>ClusterSingletonOptions.LeaseImplementation</c>.
/// </summary>
public sealed class EtcdLeaseOption(string configPath) : Akka.Hosting.Coordination.LeaseOptionBase
{
    /// <summary>The sequencer's lease: the one whose holder may write the log (<c>fence-log = on</c>).</summary>
    public static readonly EtcdLeaseOption Sequencer = new("repl.sequencer-lease");

    public override string ConfigPath { get; } = configPath;

    public override Type Class => typeof(EtcdCoordinationLease);

    public override void Apply(Akka.Hosting.AkkaConfigurationBuilder builder, Akka.Actor.Setup.Setup? setup = null) =>
        builder.AddHocon($"{ConfigPath}.lease-class = \"{Class.FullName}, {Class.Assembly.GetName().Name}\"", HoconAddMode.Append);
}
