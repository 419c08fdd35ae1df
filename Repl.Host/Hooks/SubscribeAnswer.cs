namespace Repl.Host.Hooks;

/// <summary>The subscribe hook's 200 answer: <c>{"allow", "topics"?, "user"?, "expiresIn"?, "reason"?}</c>.</summary>
internal sealed record SubscribeAnswer(bool? Allow, string[]? Topics, string? User, double? ExpiresIn, string? Reason);
