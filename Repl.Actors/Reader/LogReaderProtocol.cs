using Akka.Actor;
using Repl.Actors.Log;

namespace Repl.Actors.Reader;

/// <summary>What a node's <see cref="LogReader"/> takes.</summary>
public static class LogReaderProtocol
{
    /// <summary>
    /// Committed entries, in order, one message per committed batch. <paramref name="After"/> is the position the batch
    /// follows (-1: unknown). Never crosses a process: each node's reader is fed on its node (standalone: by the
    /// sequencer's persist callback; cluster: by etcd's watch, <see cref="Etcd.ClusterLogFeed"/>).
    /// </summary>
    /// <param name="Commit">The span of the log write that committed the batch, when tracing is on.</param>
    /// <param name="Revision">Cluster mode: the etcd revision the batch was committed at, kept with the replica so the watch resumes there.</param>
    internal sealed record Apply(long After, IReadOnlyList<LogEntry> Entries, System.Diagnostics.ActivityContext Commit = default, long Revision = 0)
        : INoSerializationVerificationNeeded;

    /// <summary>Passivate idle topic hubs: the reader's own periodic timer.</summary>
    public sealed record Sweep : INoSerializationVerificationNeeded
    {
        public static readonly Sweep Instance = new();
    }

    /// <summary>Typed key of the node's log reader in Akka.Hosting's actor registry.</summary>
    public sealed class Key;
}
