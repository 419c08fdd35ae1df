namespace Repl.Sse;

/// <summary>Why a stream's resume point was not taken (see <see cref="SseEvents.Reset"/>).</summary>
/// <param name="Requested">The <c>Last-Event-ID</c> as the client sent it.</param>
/// <param name="Reason">What it means, for a person reading the event.</param>
public sealed record ResumeReset(string Requested, string Reason);
