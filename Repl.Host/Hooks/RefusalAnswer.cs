namespace Repl.Host.Hooks;

/// <summary>What a 401 or 403 from a hook may say: <c>{"reason"}</c> (or <c>{"error"}</c>, as frameworks often write it).</summary>
internal sealed record RefusalAnswer(string? Reason, string? Error);
