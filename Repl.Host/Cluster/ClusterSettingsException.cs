namespace Repl.Host.Cluster;

/// <summary>A cluster setting that cannot work (a seed that is no address, a broker without seeds): the node does not start.</summary>
public sealed class ClusterSettingsException(string message) : Exception(message);
