namespace Repl.Actors.Cluster.Etcd;

public sealed partial class EtcdClient
{
    private const int OutOfRange = 11;

    /// <summary>Reads <paramref name="key"/>, or the keys in [key, rangeEnd) when <paramref name="rangeEnd"/> is given.</summary>
    /// <param name="key">The key, or the start of the range.</param>
    /// <param name="rangeEnd">Exclusive end of the range; <c>[0]</c> means every key ≥ <paramref name="key"/>.</param>
    /// <param name="limit">Maximum number of keys returned; 0 for no limit.</param>
    /// <param name="revision">Read the store as of this revision; 0 for the latest.</param>
    /// <param name="keysOnly">Return keys without values.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="EtcdCompactedException"><paramref name="revision"/> has been compacted away.</exception>
    /// <remarks>Reads are linearizable: they go through the Raft leader's read index.</remarks>
    public async Task<RangeResult> RangeAsync(
        byte[] key,
        byte[]? rangeEnd = null,
        long limit = 0,
        long revision = 0,
        bool keysOnly = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var request = new RangeRequestDto
        {
            Key = key,
            RangeEnd = rangeEnd,
            Limit = limit == 0 ? null : limit,
            Revision = revision == 0 ? null : revision,
            KeysOnly = keysOnly ? true : null,
        };
        try
        {
            var response = await UnaryAsync(
                "/v3/kv/range", request, EtcdJsonContext.Default.RangeRequestDto, EtcdJsonContext.Default.RangeResponseDto, cancellationToken).ConfigureAwait(false);
            return RangeResult.From(response);
        }
        catch (EtcdException e) when (e.GrpcCode == OutOfRange && e.Message.Contains("compacted", StringComparison.Ordinal))
        {
            throw new EtcdCompactedException(revision, 0);
        }
    }

    /// <summary>Reads a UTF-8 key or range; see <see cref="RangeAsync(byte[], byte[], long, long, bool, CancellationToken)"/>.</summary>
    public Task<RangeResult> RangeAsync(
        string key,
        string? rangeEnd = null,
        long limit = 0,
        long revision = 0,
        bool keysOnly = false,
        CancellationToken cancellationToken = default) =>
        RangeAsync(EtcdKeys.Utf8(key), rangeEnd is null ? null : EtcdKeys.Utf8(rangeEnd), limit, revision, keysOnly, cancellationToken);

    /// <summary>Reads one key; null when it does not exist.</summary>
    public async Task<EtcdKeyValue?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var result = await RangeAsync(EtcdKeys.Utf8(key), cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.Kvs.Count == 0 ? null : result.Kvs[0];
    }

    /// <summary>Reads every key starting with <paramref name="prefix"/>, in key order.</summary>
    public Task<RangeResult> GetPrefixAsync(string prefix, long limit = 0, long revision = 0, CancellationToken cancellationToken = default)
    {
        var key = EtcdKeys.Utf8(prefix);
        return RangeAsync(key, EtcdKeys.PrefixEnd(key), limit, revision, keysOnly: false, cancellationToken);
    }

    /// <summary>Stores <paramref name="value"/> at <paramref name="key"/>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <param name="lease">A lease to attach the key to (it is deleted when the lease ends); 0 for none.</param>
    /// <param name="prevKv">Return the previous key-value.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <remarks>See the class remarks on retried writes.</remarks>
    public async Task<PutResult> PutAsync(byte[] key, byte[] value, long lease = 0, bool prevKv = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        var request = new PutRequestDto { Key = key, Value = value, Lease = lease == 0 ? null : lease, PrevKv = prevKv ? true : null };
        var response = await UnaryAsync(
            "/v3/kv/put", request, EtcdJsonContext.Default.PutRequestDto, EtcdJsonContext.Default.PutResponseDto, cancellationToken).ConfigureAwait(false);
        return PutResult.From(response);
    }

    /// <summary>Stores a UTF-8 value at a UTF-8 key.</summary>
    public Task<PutResult> PutAsync(string key, string value, long lease = 0, bool prevKv = false, CancellationToken cancellationToken = default) =>
        PutAsync(EtcdKeys.Utf8(key), EtcdKeys.Utf8(value), lease, prevKv, cancellationToken);

    /// <summary>Deletes <paramref name="key"/>, or the keys in [key, rangeEnd).</summary>
    public async Task<DeleteRangeResult> DeleteRangeAsync(byte[] key, byte[]? rangeEnd = null, bool prevKv = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var request = new DeleteRangeRequestDto { Key = key, RangeEnd = rangeEnd, PrevKv = prevKv ? true : null };
        var response = await UnaryAsync(
            "/v3/kv/deleterange", request, EtcdJsonContext.Default.DeleteRangeRequestDto, EtcdJsonContext.Default.DeleteRangeResponseDto, cancellationToken).ConfigureAwait(false);
        return DeleteRangeResult.From(response);
    }

    /// <summary>Deletes a UTF-8 key, or the range [key, rangeEnd).</summary>
    public Task<DeleteRangeResult> DeleteRangeAsync(string key, string? rangeEnd = null, bool prevKv = false, CancellationToken cancellationToken = default) =>
        DeleteRangeAsync(EtcdKeys.Utf8(key), rangeEnd is null ? null : EtcdKeys.Utf8(rangeEnd), prevKv, cancellationToken);

    /// <summary>Deletes every key starting with <paramref name="prefix"/>.</summary>
    public Task<DeleteRangeResult> DeletePrefixAsync(string prefix, bool prevKv = false, CancellationToken cancellationToken = default)
    {
        var key = EtcdKeys.Utf8(prefix);
        return DeleteRangeAsync(key, EtcdKeys.PrefixEnd(key), prevKv, cancellationToken);
    }

    /// <summary>
    /// Runs a transaction: if every compare holds, the <paramref name="success"/> ops, otherwise the
    /// <paramref name="failure"/> ops, atomically.
    /// </summary>
    /// <remarks>
    /// <para>
    /// All writes of a transaction get the same revision, and a watcher receives them together,
    /// in op order, in one <see cref="WatchBatch"/>.
    /// </para>
    /// <para>
    /// etcd refuses a branch with more than its <c>--max-txn-ops</c> operations (default
    /// <see cref="DefaultMaxTxnOps"/> = 128) with an <see cref="EtcdException"/>; the caller splits
    /// larger batches. A key may not be written twice in one transaction. The request body is
    /// also bounded by <c>--max-request-bytes</c> (default 1.5 MiB, measured on the protobuf form).
    /// </para>
    /// <para>See the class remarks on retried writes: guard with a compare to make a replay harmless.</para>
    /// </remarks>
    public async Task<TxnResult> TxnAsync(
        IReadOnlyList<TxnCompare> compare,
        IReadOnlyList<TxnOp> success,
        IReadOnlyList<TxnOp>? failure = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(compare);
        ArgumentNullException.ThrowIfNull(success);
        var request = new TxnRequestDto
        {
            Compare = compare.Count == 0 ? null : compare.Select(c => c.ToDto()).ToList(),
            Success = success.Count == 0 ? null : success.Select(o => o.ToDto()).ToList(),
            Failure = failure is null or { Count: 0 } ? null : failure.Select(o => o.ToDto()).ToList(),
        };
        var response = await UnaryAsync(
            "/v3/kv/txn", request, EtcdJsonContext.Default.TxnRequestDto, EtcdJsonContext.Default.TxnResponseDto, cancellationToken).ConfigureAwait(false);
        return TxnResult.From(response);
    }
}
