namespace Repl.Actors.Storage;

/// <summary>Where and how the journal keeps history.</summary>
public sealed class JournalOptions
{
    /// <summary>Folder of the SQLite file <c>repl.db</c>. Created when missing.</summary>
    public string DataDir { get; set; } = "./data";

    /// <summary>Keep everything in memory: nothing survives the process. For ephemeral use and tests.</summary>
    public bool InMemory { get; set; }

    /// <summary>History kept per topic, in messages; older messages are trimmed. 0 keeps all.</summary>
    public int MaxMessagesPerTopic { get; set; } = 100_000;

    /// <summary>History kept per topic, in age; older messages are trimmed. Zero keeps all.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How long the <c>keys</c> table keeps a publish's idempotency key: the sequencer's window
    /// (<c>Sequencer:IdempotencyWindow</c>, which the host copies here), whatever retention does to the message.
    /// </summary>
    public TimeSpan IdempotencyWindow { get; set; } = TimeSpan.FromMinutes(10);
}
