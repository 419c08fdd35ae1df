using System.Text.Json;

namespace Repl.Actors.Cluster.Etcd;

public sealed partial class EtcdClient
{
    /// <summary>Asks one specific member for its status (no failover: the answer is about that member).</summary>
    /// <param name="endpoint">The member's client URL; need not be one of the configured endpoints.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="EtcdUnavailableException">The member did not answer within <see cref="EtcdOptions.AttemptTimeout"/>.</exception>
    public async Task<EtcdStatus> StatusAsync(Uri endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        using var timeout = new CancellationTokenSource(_options.AttemptTimeout, _options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.AbsoluteUri.TrimEnd('/') + "/v3/maintenance/status");
            request.Content = new ByteArrayContent("{}"u8.ToArray()) { Headers = { ContentType = JsonMediaType } };
            using var response = await _http.SendAsync(request, linked.Token).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(linked.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"HTTP {(int)response.StatusCode}: {text}");
            }

            var dto = JsonSerializer.Deserialize(text, EtcdJsonContext.Default.StatusResponseDto)
                ?? throw new JsonException("empty status body");
            return new EtcdStatus(endpoint, dto);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsTransient(e))
        {
            var reason = e is OperationCanceledException ? $"no answer within {_options.AttemptTimeout.TotalMilliseconds:0} ms" : e.Message;
            throw new EtcdUnavailableException($"etcd member {endpoint} unavailable for status: {reason}.", [endpoint], e);
        }
    }

    /// <summary>Lists the cluster's members.</summary>
    public async Task<IReadOnlyList<EtcdMember>> MemberListAsync(CancellationToken cancellationToken = default)
    {
        var response = await UnaryAsync(
            "/v3/cluster/member/list", new EmptyRequestDto(), EtcdJsonContext.Default.EmptyRequestDto, EtcdJsonContext.Default.MemberListResponseDto, cancellationToken).ConfigureAwait(false);
        return response.Members is null ? [] : response.Members.ConvertAll(EtcdMember.From);
    }

    /// <summary>Discards history before <paramref name="revision"/>: reads and watches of older revisions then fail.</summary>
    /// <param name="revision">The compaction point; must not exceed the current revision.</param>
    /// <param name="physical">Wait until the space is reclaimed in the backend before answering.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="EtcdCompactedException">The store is already compacted at or past <paramref name="revision"/>.</exception>
    public async Task<EtcdHeader> CompactAsync(long revision, bool physical = false, CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await UnaryAsync(
                "/v3/kv/compaction",
                new CompactionRequestDto { Revision = revision, Physical = physical ? true : null },
                EtcdJsonContext.Default.CompactionRequestDto,
                EtcdJsonContext.Default.CompactionResponseDto,
                cancellationToken).ConfigureAwait(false);
            return EtcdHeader.From(response.Header);
        }
        catch (EtcdException e) when (e.GrpcCode == OutOfRange && e.Message.Contains("compacted", StringComparison.Ordinal))
        {
            throw new EtcdCompactedException(revision, 0);
        }
    }
}
