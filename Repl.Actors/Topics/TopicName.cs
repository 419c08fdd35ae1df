namespace Repl.Actors.Topics;

/// <summary>What a topic may be called.</summary>
public static class TopicName
{
    public const int MaxLength = 128;

    /// <summary>Said in every "invalid topic name" error.</summary>
    public const string Rule = "a topic name is 1 to 128 characters of letters A-Z a-z, digits 0-9 and _ - . : (e.g. comments:42)";

    /// <summary>Internal topics (the readiness canary) start with this and cannot be named by clients.</summary>
    public const char InternalPrefix = '$';

    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength) return false;
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':')) return false;
        }
        return true;
    }

    public static bool IsInternal(string name) => name.Length > 0 && name[0] == InternalPrefix;
}
