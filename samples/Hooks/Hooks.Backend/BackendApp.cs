using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hooks.Backend;

/// <summary>
/// A backend that keeps its own sessions and permissions and lets a Repl node ask it (Repl's backend hooks): the
/// subscribe hook lets a logged-in user follow the topics they may see, the publish hook refuses bad chat messages, the
/// events hook is logged and listed. Every call is checked against the hooks' shared secret first.
/// </summary>
internal static class BackendApp
{
    /// <summary>For the page's copy of the node's client bundle.</summary>
    private static readonly HttpClient NodeClient = new();

    /// <summary>Builds the app: <c>--secret</c> (the node's <c>Hooks:Secret</c>), <c>--node</c> (the node's URL), <c>--urls</c>.</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddCommandLine(args, new Dictionary<string, string> { ["--node"] = "Node", ["--secret"] = "Secret" });
        if (builder.Configuration["urls"] is null) builder.WebHost.UseUrls("http://localhost:5090");
        string secret = builder.Configuration["Secret"] ?? throw new InvalidOperationException("set --secret: the node's Hooks:Secret");
        string node = (builder.Configuration["Node"] ?? "http://localhost:9000").TrimEnd('/');
        builder.Logging.AddSimpleConsole(console => console.SingleLine = true).AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        var app = builder.Build();
        var sessions = new Sessions();
        var verifier = new WebhookVerifier(secret, TimeProvider.System);
        var events = new ConcurrentQueue<JsonNode>();
        app.UseDefaultFiles();
        app.UseStaticFiles();

        // The application's own login: any name, no password (it is a sample). The cookie is what the subscribe hook reads.
        app.MapPost("/login", async (HttpContext context) =>
        {
            string? user = context.Request.HasFormContentType ? (await context.Request.ReadFormAsync())["user"].ToString()
                : (await JsonNode.ParseAsync(context.Request.Body))?["user"]?.GetValue<string>();
            if (string.IsNullOrWhiteSpace(user)) return Results.BadRequest(new { error = "missing user" });
            context.Response.Cookies.Append(Sessions.Cookie, sessions.Open(user.Trim()), new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Lax, Path = "/" });
            return Results.Ok(new { user = user.Trim() });
        });
        app.MapGet("/config", () => Results.Ok(new { node }));
        // The page's copy of the node's client bundle: a module script from another origin needs CORS, and the node serves
        // its files without it (a real application bundles @repl/client itself).
        app.MapGet("/repl-client.js", async () => Results.Text(await NodeClient.GetStringAsync(node + "/client/repl-client.js"), "text/javascript"));
        app.MapGet("/events", () => Results.Ok(events.ToArray()));

        // The hooks' handlers are cast to Delegate: as a RequestDelegate (their only parameter is the context), the IResult
        // they return would be discarded.
        // Subscribe hook: {"topics","user","client","ip","headers","claims"} → allow the session's user the topics they may see.
        app.MapPost("/hooks/subscribe", (Delegate)((HttpContext context) => HookAsync(context, verifier, call =>
        {
            string? user = sessions.UserOf(Header(call, "Cookie"));
            if (user is null) return Results.Json(new { allow = false, reason = "log in first: no session cookie" }, statusCode: StatusCodes.Status401Unauthorized);
            string[] visible = Rules.Visible(user, call["topics"]!.AsArray().Select(topic => topic!.GetValue<string>()));
            if (visible.Length == 0) return Results.Ok(new { allow = false, reason = $"{user} may follow none of these topics" });
            return Results.Ok(new { allow = true, topics = visible, user, expiresIn = 3600 });
        })));

        // Publish hook: {"topic","value","headers","user","ip","forwarded"} (a batch: "messages": [{"value","headers"}]) →
        // refuse bad chat messages (a batch with one is refused whole), store them trimmed and marked.
        app.MapPost("/hooks/publish", (Delegate)((HttpContext context) => HookAsync(context, verifier, call =>
        {
            if (!call["topic"]!.GetValue<string>().StartsWith("chat:", StringComparison.Ordinal)) return Results.Ok(new { allow = true });
            if (call["messages"] is not JsonArray batch)
            {
                var (message, refused) = Checked(call);
                return refused is not null ? Results.Ok(new { allow = false, reason = refused }) : Results.Ok(new { allow = true, value = message!["value"], headers = message["headers"] });
            }
            var checkedBatch = batch.Select(message => Checked(message!.AsObject())).ToArray();
            if (checkedBatch.FirstOrDefault(item => item.Refused is not null).Refused is { } reason) return Results.Ok(new { allow = false, reason });
            return Results.Ok(new { allow = true, messages = checkedBatch.Select(item => item.Message) });
        })));

        // Events hook: after the fact. Answer 2xx quickly: anything else and the node sends the event again.
        app.MapPost("/hooks/events", (Delegate)((HttpContext context) => HookAsync(context, verifier, call =>
        {
            app.Logger.LogInformation("event {Type}: {Event}", call["type"], call.ToJsonString());
            events.Enqueue(call);
            while (events.Count > 100) events.TryDequeue(out _);
            return Results.NoContent();
        })));
        return app;
    }

    /// <summary>Every hook: reads the body, checks the signature (401 when it does not match: the call is not from the node), answers.</summary>
    private static async Task<IResult> HookAsync(HttpContext context, WebhookVerifier verifier, Func<JsonObject, IResult> answer)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var body = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (!verifier.Verify(context.Request.Headers, body.Span))
            return Results.Json(new { allow = false, reason = "bad signature" }, statusCode: StatusCodes.Status401Unauthorized);
        try
        {
            return JsonNode.Parse(body.Span) is JsonObject call ? answer(call) : Results.BadRequest(new { reason = "not a JSON object" });
        }
        catch (Exception bad) when (bad is JsonException or InvalidOperationException or NullReferenceException)
        {
            return Results.BadRequest(new { reason = "malformed hook call: " + bad.Message });
        }
    }

    /// <summary>A chat message as it will be stored (trimmed, marked), or why it may not be.</summary>
    private static (JsonObject? Message, string? Refused) Checked(JsonObject message)
    {
        string value = (message["value"] is JsonValue text && text.TryGetValue<string>(out var s) ? s : message["value"]?.ToJsonString() ?? "").Trim();
        if (Rules.Refuse(value) is { } reason) return (null, reason);
        var headers = message["headers"]?.DeepClone() as JsonObject ?? [];
        headers["checked-by"] = "hooks-sample";
        return (new JsonObject { ["value"] = value, ["headers"] = headers }, null);
    }

    /// <summary>A forwarded request header, whatever the case of its name.</summary>
    private static string? Header(JsonObject call, string name) =>
        call["headers"] is JsonObject headers ? headers.FirstOrDefault(pair => pair.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value?.ToString() : null;
}
