namespace Repl.Host.Hooks;

/// <summary>Which hook a call is for: each has its URL, its circuit breaker and its metrics.</summary>
public enum HookKind
{
    /// <summary>Asked before a stream opens; blocking.</summary>
    Subscribe,

    /// <summary>Asked before a publish is handed to the batcher; blocking.</summary>
    Publish,

    /// <summary>Told of topic and stream events after the fact; never blocking.</summary>
    Events,
}
