using System.Collections.Concurrent;

namespace Repl.Host.Node;

/// <summary>
/// The users whose new streams this node refuses for a while after <c>POST /disconnect</c> with <c>"for"</c>: an
/// <c>EventSource</c> reconnects by itself after <c>retry</c>, with the same token, and would be back at once.
/// </summary>
/// <remarks>
/// Each broker keeps its own, told by the node that took the call (<see cref="ServerApiActor"/>); not persisted, so a
/// node that restarts, or joins after the call, does not know of it (README, "Server API"). Empty, a stream's start
/// pays one read of <see cref="ConcurrentDictionary{TKey,TValue}.IsEmpty"/>.
/// </remarks>
internal sealed class RefusedUsers(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, Refusal> _users = new(StringComparer.Ordinal);

    /// <summary>Refuses <paramref name="user"/>'s new streams until <paramref name="untilMs"/> (Unix ms); a later refusal already held stays.</summary>
    public void Refuse(string user, long untilMs, string reason)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        // Rare calls: the ones over are dropped here, so the set holds only refusals still running.
        foreach (var (name, refusal) in _users)
        {
            if (refusal.UntilMs <= now) _users.TryRemove(new(name, refusal));
        }
        if (untilMs <= now) return;
        _users.AddOrUpdate(user, new Refusal(untilMs, reason), (_, held) => held.UntilMs >= untilMs ? held : new Refusal(untilMs, reason));
    }

    /// <summary>The refusal that holds for <paramref name="user"/> now, if any.</summary>
    public Refusal? Of(string? user)
    {
        if (user is null || _users.IsEmpty || !_users.TryGetValue(user, out var refusal)) return null;
        return refusal.UntilMs > time.GetUtcNow().ToUnixTimeMilliseconds() ? refusal : null;
    }

    /// <summary>Until when (Unix ms), and the reason the disconnect gave.</summary>
    public sealed record Refusal(long UntilMs, string Reason);
}
