namespace Repl.Sse;

/// <summary>One server-sent event as a client sees it.</summary>
/// <param name="Type">The <c>event:</c> field; <c>message</c> when absent.</param>
/// <param name="Id">The <c>id:</c> field of this event, or null.</param>
public readonly record struct SseEvent(string Type, string? Id, string Data, int? Retry);
