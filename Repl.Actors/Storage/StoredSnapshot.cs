namespace Repl.Actors.Storage;

/// <summary>A snapshot as the journal keeps it: who serialized it, and the bytes.</summary>
internal sealed record StoredSnapshot(long SequenceNr, long CreatedMs, int Serializer, string Manifest, byte[] Payload);
