using System.Text.Json;

namespace Repl.Host.Hooks;

/// <summary>
/// The publish hook's 200 answer: <c>{"allow", "value"?, "headers"?, "reason"?}</c> for one message,
/// <c>{"allow", "messages"?: [{"value", "headers"}], "reason"?}</c> for a batch.
/// </summary>
internal sealed record PublishAnswer(bool? Allow, JsonElement? Value, Dictionary<string, string>? Headers, PublishAnswer[]? Messages, string? Reason);
