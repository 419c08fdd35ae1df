using System.Globalization;
using System.Text.Json;
using Repl.Host.Contract;

namespace Repl.Host.Hooks;

/// <summary>How a blocking hook's answer turns into the client's: a refusal (401, 403) or a failure (503), as JSON errors.</summary>
internal static class HookResults
{
    /// <summary>
    /// Reads a reply that is not a 200 allow: a refusal (401, 403), or null for a 200 the caller reads itself. A failed
    /// call, or a status no hook answers with, is a 503 (fail closed), with <c>Retry-After</c>.
    /// </summary>
    public static IResult? NotAnAllow(HookKind kind, HookReply reply, HookClient client, HttpContext context)
    {
        if (reply.Failed) return Failed(kind, reply.Cause!, reply.Failure, client, context);
        if (reply.Status is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden)
        {
            client.Metrics.Refused(kind);
            return Refused(kind, reply.Status, ReasonIn(reply.Body));
        }
        if (reply.Status != StatusCodes.Status200OK)
        {
            client.Metrics.Failed(kind, HookFailure.BadAnswer);
            return Failed(kind, $"the hook answered {reply.Status}; it answers 200, 401 or 403", HookFailure.BadAnswer, client, context);
        }
        return null;
    }

    /// <summary>A 200 whose body is not the hook's JSON: a failure of the hook, fail closed.</summary>
    public static IResult BadAnswer(HookKind kind, string what, HookClient client, HttpContext context)
    {
        client.Metrics.Failed(kind, HookFailure.BadAnswer);
        return Failed(kind, what, HookFailure.BadAnswer, client, context);
    }

    /// <summary><c>{"allow": false}</c> (403), a 403 or a 401, with the backend's reason as the error's cause.</summary>
    public static IResult Refused(HookKind kind, int status, string? reason) =>
        ApiError.Of(status, status == StatusCodes.Status401Unauthorized ? "unauthorized" : "forbidden",
            string.IsNullOrEmpty(reason) ? $"the {HookMetrics.Label(kind)} hook refused" : reason);

    /// <summary>503 with <c>Retry-After</c>: the hook could not decide, so the request is refused (fail closed).</summary>
    private static IResult Failed(HookKind kind, string cause, HookFailure failure, HookClient client, HttpContext context)
    {
        // An open breaker stays open for Hooks:BreakFor; anything else may pass at the next try.
        double wait = failure == HookFailure.BreakerOpen ? client.Options.BreakFor.TotalSeconds : 1;
        int seconds = Math.Max(1, (int)Math.Ceiling(wait));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        string what = kind == HookKind.Publish ? "nothing was published" : "the stream was not opened";
        return ApiError.Of(StatusCodes.Status503ServiceUnavailable, "hook failed",
            $"the {HookMetrics.Label(kind)} hook failed: {cause}; {what}; retry after {seconds} s");
    }

    /// <summary>The reason in a refusal's body: <c>{"reason"}</c> or <c>{"error"}</c>, else short plain text, else null.</summary>
    private static string? ReasonIn(byte[] body)
    {
        if (body.Length == 0) return null;
        try
        {
            var answer = JsonSerializer.Deserialize(body, HooksJsonContext.Default.RefusalAnswer);
            return answer?.Reason ?? answer?.Error;
        }
        catch (JsonException)
        {
            string text = System.Text.Encoding.UTF8.GetString(body).Trim();
            return text.Length is > 0 and <= 500 ? text : null;
        }
    }
}
