namespace Repl.Actors.Topics;

/// <summary>What a topic may be called.</summary>
/// <remarks>
/// A name travels as one path segment (<c>/topics/{name}/sse</c>), so it must be one that every HTTP stack on the way
/// delivers unchanged. Beyond the character set, that rules out:
/// <list type="bullet">
/// <item><c>.</c> and <c>..</c>: dot segments, which clients (browsers, .NET's <c>Uri</c>, curl), proxies and Kestrel
/// itself remove before routing (RFC 3986 §5.2.4), so <c>/topics/../sse</c> reaches <c>/sse</c>.</item>
/// <item>a trailing dot (<c>a.</c>): Windows-based stacks (http.sys, IIS, .NET Framework's <c>Uri</c>) may trim it
/// from a path segment, so <c>/topics/a.</c> could reach topic <c>a</c>.</item>
/// </list>
/// <c>/</c> and <c>%</c> are outside the character set, so <c>%2F</c> cannot split a name into two segments either.
/// Names equal to a route's fixed segment (<c>sse</c>, <c>batch</c>, <c>messages</c>) are fine: the name always has its
/// own segment right after <c>/topics/</c>.
/// </remarks>
public static class TopicName
{
    public const int MaxLength = 128;

    /// <summary>Said in every "invalid topic name" error.</summary>
    public const string Rule = "a topic name is 1 to 128 characters of letters A-Z a-z, digits 0-9 and _ - . : (e.g. comments:42), "
        + "does not end with a dot, and is not . or .. (URLs could not address it)";

    /// <summary>Internal topics (the readiness canary) start with this and cannot be named by clients.</summary>
    public const char InternalPrefix = '$';

    /// <summary>Whether a client may create a topic of this name.</summary>
    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength) return false;
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':')) return false;
        }
        // Covers "." and ".." too.
        return name[^1] != '.';
    }

    public static bool IsInternal(string name) => name.Length > 0 && name[0] == InternalPrefix;
}
