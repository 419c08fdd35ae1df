using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Hooks.Backend;

/// <summary>The application's own sessions: a random id in a cookie, the user it belongs to in memory.</summary>
internal sealed class Sessions
{
    /// <summary>The session cookie's name.</summary>
    public const string Cookie = "session";

    private readonly ConcurrentDictionary<string, string> _users = new(StringComparer.Ordinal);

    /// <summary>Opens a session for <paramref name="user"/>; returns its id, the cookie's value.</summary>
    public string Open(string user)
    {
        string id = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        _users[id] = user;
        return id;
    }

    /// <summary>The user of the session whose cookie is in <paramref name="cookieHeader"/> (a request's <c>Cookie</c> header), or null.</summary>
    public string? UserOf(string? cookieHeader)
    {
        foreach (var pair in (cookieHeader ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int equals = pair.IndexOf('=');
            if (equals > 0 && pair[..equals] == Cookie && _users.TryGetValue(pair[(equals + 1)..], out var user)) return user;
        }
        return null;
    }
}
