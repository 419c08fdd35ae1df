namespace Repl.Host.Hooks;

/// <summary>Why a hook call came to no usable answer; each is a <c>reason</c> of <c>repl_hook_failures_total</c>.</summary>
public enum HookFailure
{
    /// <summary>The call had an answer.</summary>
    None,

    /// <summary>No answer within <c>Hooks:Timeout</c>.</summary>
    Timeout,

    /// <summary>The backend could not be reached (refused, reset, name not found).</summary>
    Unreachable,

    /// <summary>The backend answered 5xx.</summary>
    ServerError,

    /// <summary>The hook's circuit breaker was open: the call was not made.</summary>
    BreakerOpen,

    /// <summary>No slot of <c>Hooks:MaxInFlight</c> came free within <c>Hooks:SlotWait</c>: the call was not made.</summary>
    NoSlot,

    /// <summary>The backend answered something the hook cannot read (a status it does not know, a body that is not its JSON).</summary>
    BadAnswer,
}
