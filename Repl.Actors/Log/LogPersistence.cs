namespace Repl.Actors.Log;

/// <summary>
/// How the log is kept through Akka.Persistence: the persistence id of its writer (the sequencer), and the layout of
/// a snapshot holding its topic set and idempotency keys (manifest <c>SS2</c> of <c>Repl.Actors.Serialization.ReplSerializer</c>).
/// </summary>
/// <remarks>
/// Here, below the sequencer, the serializer and the journal plugins, because all of them name it, and so does the
/// journal's schema migration (<c>Repl.Actors.Storage.JournalSchema</c>), which writes a snapshot; the serializer
/// reads and writes the same layout through this type. Fields in order, as <see cref="BinaryWriter"/> writes them: the topics
/// (count, then each), then the keys (count, then topic, key, position, created).
/// </remarks>
internal static class LogPersistence
{
    /// <summary>The log's persistence id: the only one the Repl journal keeps.</summary>
    public const string PersistenceId = "repl-log";

    /// <summary><c>ReplSerializer.Id</c>, which a stored snapshot names (the migration's test deserializes one through it).</summary>
    public const int SerializerId = 7301;

    /// <summary>The manifest of a snapshot with keys.</summary>
    public const string SnapshotManifest = "SS2";

    /// <summary>A snapshot of <paramref name="topics"/> and no keys, as the snapshot store keeps it.</summary>
    public static (int Serializer, string Manifest, byte[] Payload) SnapshotOf(IReadOnlyCollection<string> topics)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream)) WriteSnapshot(w, topics, []);
        return (SerializerId, SnapshotManifest, stream.ToArray());
    }

    public static void WriteSnapshot(BinaryWriter w, IReadOnlyCollection<string> topics, IReadOnlyCollection<IdempotencyKey> keys)
    {
        w.Write(topics.Count);
        foreach (var topic in topics) w.Write(topic);
        w.Write(keys.Count);
        foreach (var key in keys)
        {
            w.Write(key.Topic);
            w.Write(key.Key);
            w.Write(key.Position);
            w.Write(key.CreatedAtMs);
        }
    }

    /// <param name="withKeys">False for manifest <c>SS1</c>, written before snapshots held keys.</param>
    public static (string[] Topics, IdempotencyKey[] Keys) ReadSnapshot(BinaryReader r, bool withKeys)
    {
        var topics = new string[r.ReadInt32()];
        for (int i = 0; i < topics.Length; i++) topics[i] = r.ReadString();
        var keys = new IdempotencyKey[withKeys ? r.ReadInt32() : 0];
        for (int i = 0; i < keys.Length; i++) keys[i] = new IdempotencyKey(r.ReadString(), r.ReadString(), r.ReadInt64(), r.ReadInt64());
        return (topics, keys);
    }
}
