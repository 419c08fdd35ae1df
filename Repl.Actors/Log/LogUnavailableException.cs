namespace Repl.Actors.Log;

/// <summary>The log cannot commit right now (etcd has no quorum, the journal's disk failed...). Maps to 503.</summary>
public sealed class LogUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
