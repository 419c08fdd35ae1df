namespace Repl.Host.Hooks;

/// <summary>
/// What the subscribe hook decided for a stream: a <see cref="Refusal"/> to answer instead (401, 403, 503), or the
/// topics it may follow (null: all it asked for), the user it runs as, and when it ends.
/// </summary>
internal readonly record struct SubscribeVerdict(IResult? Refusal, string[]? Topics, string? User, DateTimeOffset? ExpiresAt);
