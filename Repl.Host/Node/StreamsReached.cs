namespace Repl.Host.Node;

/// <summary>What a server API call reached across the cluster: the streams told, and the brokers that answered out of those asked.</summary>
public sealed record StreamsReached(int Streams, int Nodes, int Asked);
