namespace Repl.Actors.Cluster.Etcd;

/// <summary>One change seen by a watch.</summary>
/// <param name="Type">Put or delete.</param>
/// <param name="Kv">The key after the change; for a delete, the key with <see cref="EtcdKeyValue.ModRevision"/> set to the delete's revision.</param>
public sealed record WatchEvent(WatchEventType Type, EtcdKeyValue Kv)
{
    internal static WatchEvent From(EventDto dto) =>
        new(
            dto.Type == "DELETE" ? WatchEventType.Delete : WatchEventType.Put,
            dto.Kv is null ? EtcdKeyValue.From(new KeyValueDto()) : EtcdKeyValue.From(dto.Kv));
}
