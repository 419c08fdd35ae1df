namespace Repl.Host.Node;

/// <summary>The node's identity and mode (configuration section <c>Node</c>).</summary>
public sealed class NodeOptions
{
    /// <summary>Name of this node in streams, health and the cluster view. Default: the machine name.</summary>
    public string Id { get; set; } = Environment.MachineName;

    /// <summary>
    /// Kestrel's inline scheduling: a flush sends on the flushing thread, so the fan-out thread writes streams without
    /// a thread hop per write. Receive completions still arrive on the pool, so request handling stays off the
    /// socket engine's thread (unless <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> is set).
    /// </summary>
    public bool InlineScheduling { get; set; } = true;

    /// <summary>
    /// How often retention runs: one round for the whole cluster, by the retention owner (a singleton,
    /// <see cref="Repl.Actors.Sharding.RetentionActor"/>), which trims the topics over their limits. More than zero.
    /// </summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromSeconds(30);
}
