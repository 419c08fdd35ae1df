namespace Repl.Sse;

/// <summary>
/// Through a stream's async callback: the server ends the stream (<c>POST /disconnect</c>); it says
/// <c>event: disconnect</c> with <c>{"reason"}</c> after what its round holds, then closes.
/// </summary>
internal sealed record StreamDisconnect(string Reason);
