namespace Repl.Host.Security;

/// <summary>What a request needs: a permission on some topics, and which limits apply to it.</summary>
/// <remarks>
/// Decided from the matched endpoint's route pattern and method, so the route files stay free of security code:
/// <list type="bullet">
/// <item><c>POST /topics</c> needs publish on the name in the body; <c>POST|DELETE /topics/{topic}[/…]</c> publish on <c>{topic}</c>.</item>
/// <item><c>GET /topics/{topic}/sse</c>, <c>GET /sse?topic=…</c> and <c>GET /topics/{topic}/messages</c> need subscribe on every topic.</item>
/// <item><c>GET /topics</c>, <c>GET /topics/{topic}</c>, health routes and static pages are open; <c>/metrics</c> is open unless <c>Auth:MetricsRequiresAdmin</c>.</item>
/// <item>Any other route: GET with a <c>{topic}</c> needs subscribe on it, other GETs are open; any other write needs publish on
/// its <c>{topic}</c>, or admin when it has none. A new route is therefore closed by default.</item>
/// </list>
/// </remarks>
internal readonly record struct RouteAccess(Permission Permission, RouteAccess.TopicSource Source, bool IsStream, bool IsPublish)
{
    public static readonly RouteAccess Open = new(Permission.None, TopicSource.None, false, false);

    public enum TopicSource
    {
        None,
        Route,
        Query,
        Body,
    }

    public static RouteAccess For(HttpContext context, Endpoint endpoint, AuthOptions auth)
    {
        string? pattern = (endpoint as RouteEndpoint)?.RoutePattern.RawText;
        if (pattern is null) return Open;
        if (!pattern.StartsWith('/')) pattern = "/" + pattern;
        string method = context.Request.Method;
        bool read = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        bool hasTopic = (endpoint as RouteEndpoint)!.RoutePattern.GetParameter("topic") is not null;
        return (pattern, read) switch
        {
            ("/metrics", true) => auth.MetricsRequiresAdmin ? new(Permission.Admin, TopicSource.None, false, false) : Open,
            ("/sse", true) => new(Permission.Subscribe, TopicSource.Query, IsStream: true, false),
            ("/topics", false) when HttpMethods.IsPost(method) => new(Permission.Publish, TopicSource.Body, false, false),
            ("/topics/{topic}", true) => Open,
            ("/topics/{topic}/sse", true) => new(Permission.Subscribe, TopicSource.Route, IsStream: true, false),
            ("/topics/{topic}", false) or ("/topics/{topic}/batch", false) when HttpMethods.IsPost(method) =>
                new(Permission.Publish, TopicSource.Route, false, IsPublish: true),
            (_, true) => hasTopic ? new(Permission.Subscribe, TopicSource.Route, false, false) : Open,
            (_, false) => hasTopic ? new(Permission.Publish, TopicSource.Route, false, false) : new(Permission.Admin, TopicSource.None, false, false),
        };
    }

    /// <summary>The topics the permission is needed on; null when they cannot be told (the handler will refuse the request).</summary>
    public async ValueTask<string[]?> TopicsAsync(HttpContext context, long maxBodyBytes)
    {
        switch (Source)
        {
            case TopicSource.Route:
                return context.Request.RouteValues["topic"] is string topic ? [topic] : null;
            case TopicSource.Query:
                string[] names = [.. context.Request.Query["topic"].SelectMany(value => (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))];
                return names.Length == 0 ? null : names;
            case TopicSource.Body:
                return await BodyNameAsync(context, maxBodyBytes) is { } name ? [name] : null;
            default:
                return [];
        }
    }

    /// <summary>Reads <c>{"name": ...}</c> from a buffered body and rewinds it for the handler.</summary>
    private static async ValueTask<string?> BodyNameAsync(HttpContext context, long maxBodyBytes)
    {
        if (context.Request.ContentLength > maxBodyBytes) return null;
        context.Request.EnableBuffering();
        try
        {
            using var copy = new MemoryStream();
            var buffer = new byte[8192];
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                copy.Write(buffer, 0, read);
                if (copy.Length > maxBodyBytes) return null;
            }
            // Read exactly as the handler reads it (same serializer context), so the name checked is the name created.
            // A reader, as the handler uses, stops after the first value: trailing bytes are ignored alike.
            var reader = new System.Text.Json.Utf8JsonReader(copy.GetBuffer().AsSpan(0, (int)copy.Length));
            return System.Text.Json.JsonSerializer.Deserialize(ref reader, Repl.Host.Api.ApiJsonContext.Default.CreateTopicRequest)?.Name;
        }
        catch (Exception error) when (error is System.Text.Json.JsonException or InvalidOperationException or BadHttpRequestException or IOException)
        {
            return null;
        }
        finally
        {
            context.Request.Body.Position = 0;
        }
    }
}
