
namespace Repl.Actors.Log;

/// <summary>
/// The idempotency keys of recent publishes, per topic: where each landed, for as long as the window keeps it.
/// </summary>
/// <remarks>
/// Time here is the log's: a key expires when a later publish's <c>createdAt</c> is more than the window after its
/// own, and beyond <c>maxKeys</c> the oldest go first. Both depend only on the log, so every replica of the window
/// built from the same entries (the sequencer after recovery, another node's reader) agrees on it.
/// </remarks>
public sealed class IdempotencyWindow(TimeSpan window, int maxKeys)
{
    private readonly Dictionary<(string Topic, string Key), long> _positions = [];
    private readonly Queue<IdempotencyKey> _order = new();

    /// <summary>Keys held now.</summary>
    public int Count => _positions.Count;

    /// <summary>Where the publish with this topic and key landed, if the window still holds it.</summary>
    public bool TryGet(string topic, string key, out long position) => _positions.TryGetValue((topic, key), out position);

    /// <summary>Remembers a committed publish's key (a later one with the same key replaces it).</summary>
    /// <remarks>
    /// Adding a key again at the position it holds changes nothing: a recovery rebuilds the window from the journal,
    /// then replays events the journal had already applied (see <see cref="SequencerActor"/>).
    /// </remarks>
    internal void Add(IdempotencyKey key)
    {
        if (_positions.TryGetValue((key.Topic, key.Key), out long held) && held == key.Position) return;
        _positions[(key.Topic, key.Key)] = key.Position;
        _order.Enqueue(key);
        long oldest = key.CreatedAtMs - (long)window.TotalMilliseconds;
        while (_order.TryPeek(out var head) && (_order.Count > maxKeys || head.CreatedAtMs < oldest))
        {
            _order.Dequeue();
            // Only if it still points there: a key may have been added again since.
            if (_positions.TryGetValue((head.Topic, head.Key), out long position) && position == head.Position) _positions.Remove((head.Topic, head.Key));
        }
    }
}
