namespace Repl.Actors.Cluster.Etcd;

/// <summary>One operation inside a transaction branch.</summary>
public sealed class TxnOp
{
    private TxnOp(TxnOpKind kind, RangeRequestDto? range, PutRequestDto? put, DeleteRangeRequestDto? delete)
    {
        Kind = kind;
        RangeDto = range;
        PutDto = put;
        DeleteDto = delete;
    }

    /// <summary>What the operation does.</summary>
    public TxnOpKind Kind { get; }

    private RangeRequestDto? RangeDto { get; }

    private PutRequestDto? PutDto { get; }

    private DeleteRangeRequestDto? DeleteDto { get; }

    /// <summary>Puts <paramref name="value"/> at <paramref name="key"/>, optionally attached to a lease.</summary>
    public static TxnOp Put(byte[] key, byte[] value, long lease = 0) =>
        new(TxnOpKind.Put, null, new PutRequestDto { Key = key, Value = value, Lease = lease == 0 ? null : lease }, null);

    /// <summary>Puts a UTF-8 value at a UTF-8 key.</summary>
    public static TxnOp Put(string key, string value, long lease = 0) => Put(EtcdKeys.Utf8(key), EtcdKeys.Utf8(value), lease);

    /// <summary>Puts bytes at a UTF-8 key.</summary>
    public static TxnOp Put(string key, byte[] value, long lease = 0) => Put(EtcdKeys.Utf8(key), value, lease);

    /// <summary>Reads <paramref name="key"/>, or [key, rangeEnd) when <paramref name="rangeEnd"/> is given.</summary>
    public static TxnOp Range(byte[] key, byte[]? rangeEnd = null, long limit = 0) =>
        new(TxnOpKind.Range, new RangeRequestDto { Key = key, RangeEnd = rangeEnd, Limit = limit == 0 ? null : limit }, null, null);

    /// <summary>Reads a UTF-8 key (or range).</summary>
    public static TxnOp Range(string key, string? rangeEnd = null, long limit = 0) =>
        Range(EtcdKeys.Utf8(key), rangeEnd is null ? null : EtcdKeys.Utf8(rangeEnd), limit);

    /// <summary>Deletes <paramref name="key"/>, or [key, rangeEnd) when <paramref name="rangeEnd"/> is given.</summary>
    public static TxnOp DeleteRange(byte[] key, byte[]? rangeEnd = null) =>
        new(TxnOpKind.DeleteRange, null, null, new DeleteRangeRequestDto { Key = key, RangeEnd = rangeEnd });

    /// <summary>Deletes a UTF-8 key (or range).</summary>
    public static TxnOp DeleteRange(string key, string? rangeEnd = null) =>
        DeleteRange(EtcdKeys.Utf8(key), rangeEnd is null ? null : EtcdKeys.Utf8(rangeEnd));

    internal RequestOpDto ToDto() => new()
    {
        RequestRange = RangeDto,
        RequestPut = PutDto,
        RequestDeleteRange = DeleteDto,
    };
}
