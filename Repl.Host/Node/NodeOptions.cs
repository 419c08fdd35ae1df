namespace Repl.Host.Node;

/// <summary>The node's identity and mode (configuration section <c>Node</c>).</summary>
public sealed class NodeOptions
{
    /// <summary>Name of this node in streams, health and the cluster view. Default: the machine name.</summary>
    public string Id { get; set; } = Environment.MachineName;

    /// <summary>Applies retention this often.</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromSeconds(30);
}
