namespace Hooks.Backend;

/// <summary>This application's permissions: who may follow which topics, and what may be published.</summary>
internal static class Rules
{
    /// <summary>Longest message value accepted.</summary>
    public const int MaxValueLength = 280;

    /// <summary>
    /// The topics of <paramref name="requested"/> that <paramref name="user"/> may follow: the public ones (<c>demo</c>,
    /// <c>news</c>, <c>chat:*</c>) and their own inbox (<c>inbox:&lt;user&gt;</c>); anyone else's inbox is left out.
    /// </summary>
    public static string[] Visible(string user, IEnumerable<string> requested) =>
        [.. requested.Where(topic => topic is "demo" or "news" || topic.StartsWith("chat:", StringComparison.Ordinal) || topic == "inbox:" + user)];

    /// <summary>Why <paramref name="value"/> may not be published, or null when it may (trimmed, as it will be stored).</summary>
    public static string? Refuse(string value)
    {
        if (value.Length == 0) return "a message needs some text";
        if (value.Length > MaxValueLength) return $"a message is at most {MaxValueLength} characters";
        if (value.Contains("<script", StringComparison.OrdinalIgnoreCase)) return "no scripts in messages";
        return null;
    }
}
