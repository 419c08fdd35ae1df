namespace Repl.Actors.Log;

/// <summary>
/// The log cannot commit right now (etcd has no quorum, the journal's disk failed...), and nothing of the write that
/// failed was committed. Maps to 503 <c>log unavailable</c>.
/// </summary>
/// <remarks>Thrown only where that is known; a write whose outcome is not known fails with <see cref="OutcomeUnknownException"/>.</remarks>
public sealed class LogUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
