using System.Text.Json;

namespace Voting.Tally;

/// <summary>
/// The tally's answer to the node's publish hook (<c>--hook-secret</c>; the node's <c>Hooks:Publish</c> set to
/// <c>/hooks/ballot</c>): a ballot with no voter or an unknown option is refused before it is committed, so it never
/// reaches the log. What needs the tally's state (a second ballot from a voter) is still answered by the tally.
/// </summary>
internal static class BallotCheck
{
    /// <summary>Answers one publish hook call: 401 when it is not signed with the secret, else allowed or refused.</summary>
    public static async Task<IResult> AnswerAsync(HttpContext context, Hooks.Backend.WebhookVerifier verifier, TallyOptions options)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var body = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (!verifier.Verify(context.Request.Headers, body.Span)) return Results.Json(new { allow = false, reason = "bad signature" }, statusCode: StatusCodes.Status401Unauthorized);
        using var call = JsonDocument.Parse(body);
        var root = call.RootElement;
        // Other topics (the results), and batches, pass: only single ballots are checked.
        if (root.GetProperty("topic").GetString() != options.Votes || !root.TryGetProperty("value", out var value)) return Results.Ok(new { allow = true });
        return Refuse(value.GetString() ?? "", options.OptionList) is { } reason ? Results.Ok(new { allow = false, reason }) : Results.Ok(new { allow = true });
    }

    /// <summary>Why the ballot <paramref name="value"/> may not be published, or null when it may.</summary>
    public static string? Refuse(string value, IReadOnlyCollection<string> options)
    {
        string? userId = null, option = null, type = null;
        try
        {
            using var document = JsonDocument.Parse(value);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                userId = root.TryGetProperty("userId", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
                option = root.TryGetProperty("option", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
                type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            }
        }
        catch (JsonException)
        {
        }
        if (type == "close") return null;
        return (userId, option) switch
        {
            (null or "", _) => "malformed ballot: send {\"userId\":\"...\",\"option\":\"...\"}",
            (_, null) => "missing option",
            _ when !options.Contains(option) => $"invalid option '{option}': choose one of {string.Join(", ", options)}",
            _ => null,
        };
    }
}
