using System.Text;

namespace Repl.Actors.Cluster.Etcd;

/// <summary>A key and its value as stored in etcd, with its MVCC metadata.</summary>
public sealed class EtcdKeyValue
{
    internal EtcdKeyValue(byte[] key, byte[] value, long createRevision, long modRevision, long version, long lease)
    {
        Key = key;
        Value = value;
        CreateRevision = createRevision;
        ModRevision = modRevision;
        Version = version;
        Lease = lease;
    }

    /// <summary>The key's bytes.</summary>
    public byte[] Key { get; }

    /// <summary>The value's bytes (empty for a keys-only range or a delete event).</summary>
    public byte[] Value { get; }

    /// <summary>Revision of the last creation of this key.</summary>
    public long CreateRevision { get; }

    /// <summary>Revision of the last modification of this key.</summary>
    public long ModRevision { get; }

    /// <summary>Number of modifications since creation; 0 for a deleted key.</summary>
    public long Version { get; }

    /// <summary>Id of the lease attached to the key, 0 when none.</summary>
    public long Lease { get; }

    /// <summary>The key decoded as UTF-8.</summary>
    public string KeyString => Encoding.UTF8.GetString(Key);

    /// <summary>The value decoded as UTF-8.</summary>
    public string ValueString => Encoding.UTF8.GetString(Value);

    /// <inheritdoc />
    public override string ToString() => $"{KeyString}@{ModRevision}";

    internal static EtcdKeyValue From(KeyValueDto dto) =>
        new(dto.Key ?? [], dto.Value ?? [], dto.CreateRevision, dto.ModRevision, dto.Version, dto.Lease);

    internal static IReadOnlyList<EtcdKeyValue> FromList(List<KeyValueDto>? dtos) =>
        dtos is null or { Count: 0 } ? [] : dtos.ConvertAll(From);
}
