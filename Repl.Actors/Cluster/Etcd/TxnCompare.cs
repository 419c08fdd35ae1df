namespace Repl.Actors.Cluster.Etcd;

/// <summary>One guard of a transaction: all guards true runs the success branch, otherwise the failure branch.</summary>
/// <remarks>
/// A missing key has version, create revision and mod revision 0, so
/// <c>TxnCompare.Version(key, CompareResult.Equal, 0)</c> means "key absent" and
/// <c>TxnCompare.ModRevision(key, CompareResult.Equal, r)</c> is the usual optimistic-concurrency guard.
/// </remarks>
public sealed class TxnCompare
{
    private TxnCompare(byte[] key, CompareTarget target, CompareResult result, long number, byte[]? value)
    {
        Key = key;
        Target = target;
        Result = result;
        Number = number;
        ValueOperand = value;
    }

    /// <summary>The key compared.</summary>
    public byte[] Key { get; }

    /// <summary>What is compared.</summary>
    public CompareTarget Target { get; }

    /// <summary>The relation required.</summary>
    public CompareResult Result { get; }

    /// <summary>The numeric operand (version, revision or lease); unused for <see cref="CompareTarget.Value"/>.</summary>
    public long Number { get; }

    /// <summary>The value operand for <see cref="CompareTarget.Value"/>.</summary>
    public byte[]? ValueOperand { get; }

    /// <summary>Compares the key's version.</summary>
    public static TxnCompare Version(byte[] key, CompareResult result, long version) => new(key, CompareTarget.Version, result, version, null);

    /// <summary>Compares the key's version.</summary>
    public static TxnCompare Version(string key, CompareResult result, long version) => Version(EtcdKeys.Utf8(key), result, version);

    /// <summary>Compares the key's create revision.</summary>
    public static TxnCompare CreateRevision(byte[] key, CompareResult result, long revision) => new(key, CompareTarget.CreateRevision, result, revision, null);

    /// <summary>Compares the key's create revision.</summary>
    public static TxnCompare CreateRevision(string key, CompareResult result, long revision) => CreateRevision(EtcdKeys.Utf8(key), result, revision);

    /// <summary>Compares the key's mod revision.</summary>
    public static TxnCompare ModRevision(byte[] key, CompareResult result, long revision) => new(key, CompareTarget.ModRevision, result, revision, null);

    /// <summary>Compares the key's mod revision.</summary>
    public static TxnCompare ModRevision(string key, CompareResult result, long revision) => ModRevision(EtcdKeys.Utf8(key), result, revision);

    /// <summary>Compares the key's value bytes.</summary>
    public static TxnCompare Value(byte[] key, CompareResult result, byte[] value) => new(key, CompareTarget.Value, result, 0, value);

    /// <summary>Compares the key's value as UTF-8.</summary>
    public static TxnCompare Value(string key, CompareResult result, string value) => Value(EtcdKeys.Utf8(key), result, EtcdKeys.Utf8(value));

    /// <summary>Compares the key's lease id.</summary>
    public static TxnCompare Lease(byte[] key, CompareResult result, long lease) => new(key, CompareTarget.Lease, result, lease, null);

    internal CompareDto ToDto()
    {
        var dto = new CompareDto
        {
            Key = Key,
            Result = Result switch
            {
                CompareResult.Equal => "EQUAL",
                CompareResult.Greater => "GREATER",
                CompareResult.Less => "LESS",
                CompareResult.NotEqual => "NOT_EQUAL",
                _ => throw new ArgumentOutOfRangeException(nameof(Result)),
            },
        };

        // The operand is a protobuf oneof: exactly one field is written, even when it is 0.
        switch (Target)
        {
            case CompareTarget.Version: dto.Target = "VERSION"; dto.Version = Number; break;
            case CompareTarget.CreateRevision: dto.Target = "CREATE"; dto.CreateRevision = Number; break;
            case CompareTarget.ModRevision: dto.Target = "MOD"; dto.ModRevision = Number; break;
            case CompareTarget.Value: dto.Target = "VALUE"; dto.Value = ValueOperand ?? []; break;
            case CompareTarget.Lease: dto.Target = "LEASE"; dto.Lease = Number; break;
            default: throw new ArgumentOutOfRangeException(nameof(Target));
        }

        return dto;
    }
}
