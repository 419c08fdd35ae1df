namespace Repl.Actors.Log;

/// <summary>
/// A write whose outcome is not known: it may have been committed (and is then delivered) or not. Maps to 503
/// <c>outcome unknown</c>.
/// </summary>
/// <remarks>
/// The answer of a log transaction was lost (a deadline, a connection lost after the request went out, the sequencer's
/// node gone with the write in flight). A publish retried with the same idempotency key is committed once either way;
/// without a key, a retry may publish it twice. The message says what happened and what a retry does.
/// </remarks>
public sealed class OutcomeUnknownException(string message, Exception? inner = null) : Exception(message, inner);
