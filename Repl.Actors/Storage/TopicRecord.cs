namespace Repl.Actors.Storage;

/// <summary>A topic as the journal knows it.</summary>
/// <param name="Created">Position of the entry that created it.</param>
/// <param name="TrimmedThrough">Highest position removed by retention (0: nothing removed). A reader behind it has a gap.</param>
public readonly record struct TopicRecord(string Name, long Created, long TrimmedThrough)
{
    /// <summary>The topic's own settings as the log's settings entry wrote them (<c>Topics.TopicSettings.ToJson</c>); empty when it has none.</summary>
    /// <remarks>As bytes: the journal stores and returns them, and the topics' room (<c>Topics</c>) reads them.</remarks>
    public byte[] SettingsJson { get; init; } = [];
}
