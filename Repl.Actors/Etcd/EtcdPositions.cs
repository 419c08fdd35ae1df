namespace Repl.Actors.Etcd;

/// <summary>
/// Log positions in cluster mode: <c>(etcd revision &lt;&lt; 20) | (index in batch + 1)</c>.
/// </summary>
/// <remarks>
/// etcd gives every transaction one revision, the same on every member, so every node derives the same position
/// for the same entry. 20 bits leave room for a million entries per batch (batches hold at most a few thousand);
/// index 0 is never a real entry, and indexes from <see cref="SyntheticBase"/> up are reserved for the entries a
/// node synthesises when it resynchronises after a compaction.
/// </remarks>
internal static class EtcdPositions
{
    public const int IndexBits = 20;

    /// <summary>First index of synthesised entries inside a revision.</summary>
    public const int SyntheticBase = 1 << 19;

    public static long Of(long revision, int index) => (revision << IndexBits) | (uint)(index + 1);

    /// <summary>The etcd revision a position was committed at.</summary>
    public static long RevisionOf(long position) => position >> IndexBits;
}
