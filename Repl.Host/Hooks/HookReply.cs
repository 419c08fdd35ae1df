namespace Repl.Host.Hooks;

/// <summary>What a hook call came to: the backend's answer (<see cref="Status"/>, <see cref="Body"/>), or why there is none.</summary>
/// <remarks>
/// A call failed (<see cref="Failure"/> other than <see cref="HookFailure.None"/>) when it timed out, the backend was
/// unreachable or answered 5xx, its circuit breaker was open, or no slot was free in time; <see cref="Cause"/> says
/// it in words. A blocking hook fails closed on it: 503 with <c>Retry-After</c>. Any other status is an answer, for the
/// hook to read.
/// </remarks>
internal readonly record struct HookReply(int Status, byte[] Body, HookFailure Failure, string? Cause)
{
    public bool Failed => Failure != HookFailure.None;

    public static HookReply Fail(HookFailure failure, string cause, int status = 0) => new(status, [], failure, cause);
}
