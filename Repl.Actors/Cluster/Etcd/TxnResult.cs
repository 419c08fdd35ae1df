namespace Repl.Actors.Cluster.Etcd;

/// <summary>The answer to a transaction.</summary>
public sealed class TxnResult
{
    internal TxnResult(EtcdHeader header, bool succeeded, IReadOnlyList<TxnOpResult> responses)
    {
        Header = header;
        Succeeded = succeeded;
        Responses = responses;
    }

    /// <summary>
    /// Header. When the branch that ran wrote anything, <see cref="EtcdHeader.Revision"/> is the
    /// single revision every write of the transaction got.
    /// </summary>
    public EtcdHeader Header { get; }

    /// <summary>True when every compare held and the success branch ran.</summary>
    public bool Succeeded { get; }

    /// <summary>One result per op of the branch that ran, in op order.</summary>
    public IReadOnlyList<TxnOpResult> Responses { get; }

    internal static TxnResult From(TxnResponseDto dto) =>
        new(
            EtcdHeader.From(dto.Header),
            dto.Succeeded,
            dto.Responses is null or { Count: 0 } ? [] : dto.Responses.ConvertAll(TxnOpResult.From));
}
