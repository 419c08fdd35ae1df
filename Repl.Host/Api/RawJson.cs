namespace Repl.Host.Api;

/// <summary>A JSON response assembled from pre-encoded parts (messages are encoded once, never re-serialised).</summary>
internal sealed class RawJson(int status, params ReadOnlyMemory<byte>[] parts) : IResult
{
    public async Task ExecuteAsync(HttpContext context)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        var writer = context.Response.BodyWriter;
        foreach (var part in parts) await writer.WriteAsync(part, context.RequestAborted);
    }

    /// <summary>Joins JSON values with commas inside brackets.</summary>
    public static ReadOnlyMemory<byte>[] Array(ReadOnlySpan<byte> prefix, IReadOnlyList<byte[]> items, ReadOnlySpan<byte> suffix)
    {
        var parts = new ReadOnlyMemory<byte>[items.Count * 2 + 2];
        parts[0] = (prefix.ToArray().Concat("["u8.ToArray())).ToArray();
        for (int i = 0; i < items.Count; i++)
        {
            parts[1 + i * 2] = items[i];
            parts[2 + i * 2] = i + 1 < items.Count ? Comma : ReadOnlyMemory<byte>.Empty;
        }
        parts[^1] = ("]"u8.ToArray().Concat(suffix.ToArray())).ToArray();
        return parts;
    }

    private static readonly byte[] Comma = ","u8.ToArray();
}
