namespace Repl.Actors.Cluster.Etcd;

/// <summary>The result of one <see cref="TxnOp"/> of the branch that ran, in the same position.</summary>
public sealed class TxnOpResult
{
    private TxnOpResult(TxnOpKind kind, RangeResult? range, PutResult? put, DeleteRangeResult? delete)
    {
        Kind = kind;
        Range = range;
        Put = put;
        DeleteRange = delete;
    }

    /// <summary>Which of the properties below is set.</summary>
    public TxnOpKind Kind { get; }

    /// <summary>Set for a range op.</summary>
    public RangeResult? Range { get; }

    /// <summary>Set for a put op.</summary>
    public PutResult? Put { get; }

    /// <summary>Set for a delete op.</summary>
    public DeleteRangeResult? DeleteRange { get; }

    internal static TxnOpResult From(ResponseOpDto dto)
    {
        if (dto.ResponseRange is { } r)
        {
            return new TxnOpResult(TxnOpKind.Range, RangeResult.From(r), null, null);
        }

        if (dto.ResponseDeleteRange is { } d)
        {
            return new TxnOpResult(TxnOpKind.DeleteRange, null, null, DeleteRangeResult.From(d));
        }

        // An empty put response serialises as {"response_put":{"header":{}}} but be lenient anyway.
        return new TxnOpResult(TxnOpKind.Put, null, PutResult.From(dto.ResponsePut ?? new PutResponseDto()), null);
    }
}
