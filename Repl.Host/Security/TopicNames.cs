using System.Text.Json;
using Repl.Host.Contract;

namespace Repl.Host.Security;

/// <summary>Reads the topics a request names, the way its handler will read them, for a <see cref="TopicRequirement"/>.</summary>
internal static class TopicNames
{
    /// <summary>The topics named; empty when the request names none (its handler answers 400 then).</summary>
    public static async ValueTask<string[]> ReadAsync(HttpContext context, TopicSource source, long maxBodyBytes)
    {
        if (source == TopicSource.Body) return await BodyNameAsync(context, maxBodyBytes) is { } name ? [name] : [];
        if (context.Request.RouteValues["topic"] is string topic) return [topic];
        return RequestTopics.FromQuery(context.Request);
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
            var reader = new Utf8JsonReader(copy.GetBuffer().AsSpan(0, (int)copy.Length));
            return JsonSerializer.Deserialize(ref reader, ApiJsonContext.Default.CreateTopicRequest)?.Name;
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException or BadHttpRequestException or IOException)
        {
            return null;
        }
        finally
        {
            context.Request.Body.Position = 0;
        }
    }
}
