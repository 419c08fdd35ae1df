namespace Repl.Sse;

/// <summary>
/// Through a stream's async callback: the server takes the stream off one topic (<c>DELETE /topics/{name}/clients/{client}</c>);
/// it says <c>event: unsubscribed</c> with <c>{"topic"}</c> and goes on with its other topics, or closes when none is left.
/// </summary>
internal sealed record StreamUnsubscribe(string Topic);
