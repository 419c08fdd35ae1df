namespace Repl.Actors.Cluster.Etcd;

public sealed partial class EtcdClient
{
    /// <summary>Grants a lease that expires after <paramref name="ttl"/> unless kept alive.</summary>
    /// <remarks>etcd works in whole seconds and raises a TTL below its minimum (about 1.5 × election timeout).</remarks>
    public async Task<LeaseGrantResult> LeaseGrantAsync(TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var seconds = (long)Math.Ceiling(ttl.TotalSeconds);
        ArgumentOutOfRangeException.ThrowIfLessThan(seconds, 1, nameof(ttl));
        var response = await UnaryAsync(
            "/v3/lease/grant", new LeaseGrantRequestDto { Ttl = seconds }, EtcdJsonContext.Default.LeaseGrantRequestDto, EtcdJsonContext.Default.LeaseGrantResponseDto, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(response.Error))
        {
            throw new EtcdException($"etcd refused the lease grant: {response.Error}");
        }

        return new LeaseGrantResult(response.Id, TimeSpan.FromSeconds(response.Ttl), EtcdHeader.From(response.Header));
    }

    /// <summary>Renews a lease once.</summary>
    /// <returns>The renewed TTL; <see cref="TimeSpan.Zero"/> when the lease no longer exists (expired or revoked).</returns>
    /// <remarks>
    /// The gateway serves keep-alive as a stream; this sends one request, reads the first
    /// answer and closes the stream, which is cheap enough at one call per TTL/3.
    /// </remarks>
    public async Task<TimeSpan> LeaseKeepAliveOnceAsync(long leaseId, CancellationToken cancellationToken = default)
    {
        var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new LeaseIdRequestDto { Id = leaseId }, EtcdJsonContext.Default.LeaseIdRequestDto);
        return await ExecuteAsync(
            "/v3/lease/keepalive",
            async (index, ct) =>
            {
                using var response = await PostAsync(index, "/v3/lease/keepalive", body, streaming: false, ct).ConfigureAwait(false);
                await using var lines = new JsonLineReader<StreamLineDto<LeaseKeepAliveResponseDto>>(
                    await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false),
                    EtcdJsonContext.Default.StreamLineDtoLeaseKeepAliveResponseDto);
                var line = await lines.ReadAsync(ct).ConfigureAwait(false);
                if (line?.Error is { } error)
                {
                    throw new IOException($"{_endpoints[index]} ended the keep-alive stream: {error.Message} (gRPC code {error.GrpcCode}).");
                }

                var result = line?.Result ?? throw new IOException($"{_endpoints[index]} closed the keep-alive stream without an answer.");
                return TimeSpan.FromSeconds(result.Ttl);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Revokes a lease: every key attached to it is deleted at once.</summary>
    /// <exception cref="EtcdException">With <see cref="EtcdException.GrpcCode"/> 5 (NotFound) when the lease does not exist.</exception>
    public async Task<EtcdHeader> LeaseRevokeAsync(long leaseId, CancellationToken cancellationToken = default)
    {
        var response = await UnaryAsync(
            "/v3/lease/revoke", new LeaseIdRequestDto { Id = leaseId }, EtcdJsonContext.Default.LeaseIdRequestDto, EtcdJsonContext.Default.LeaseRevokeResponseDto, cancellationToken).ConfigureAwait(false);
        return EtcdHeader.From(response.Header);
    }

    /// <summary>Grants a lease and starts a <see cref="LeaseKeeper"/> keeping it alive.</summary>
    public async Task<LeaseKeeper> StartLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var grant = await LeaseGrantAsync(ttl, cancellationToken).ConfigureAwait(false);
        return new LeaseKeeper(this, grant.Id, grant.Ttl, _options.TimeProvider);
    }
}
