using System.Buffers;

namespace Repl.Host.Api;

/// <summary>A JSON response assembled from pre-encoded parts (messages are encoded once, never re-serialised).</summary>
internal sealed class RawJson(int status, params ReadOnlyMemory<byte>[] parts) : IResult
{
    /// <remarks>
    /// One buffered write with a Content-Length: a WriteAsync per part flushed each part as its own HTTP chunk
    /// (a send per part) on the publish path.
    /// </remarks>
    public async Task ExecuteAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        long length = 0;
        foreach (var part in parts) length += part.Length;
        response.ContentLength = length;
        var writer = response.BodyWriter;
        foreach (var part in parts) writer.Write(part.Span);
        await writer.FlushAsync(context.RequestAborted);
    }

    /// <summary>Joins JSON values with commas inside brackets.</summary>
    /// <param name="items">The values, each <paramref name="partsPerItem"/> parts written one after the other.</param>
    public static ReadOnlyMemory<byte>[] Array(ReadOnlySpan<byte> prefix, IReadOnlyList<ReadOnlyMemory<byte>> items, ReadOnlySpan<byte> suffix, int partsPerItem = 1)
    {
        int count = items.Count / partsPerItem;
        var parts = new ReadOnlyMemory<byte>[count * (partsPerItem + 1) + 2];
        parts[0] = (byte[])[.. prefix, (byte)'['];
        int next = 1;
        for (int i = 0; i < count; i++)
        {
            for (int part = 0; part < partsPerItem; part++) parts[next++] = items[i * partsPerItem + part];
            parts[next++] = i + 1 < count ? Comma : ReadOnlyMemory<byte>.Empty;
        }
        parts[^1] = (byte[])[(byte)']', .. suffix];
        return parts;
    }

    private static readonly byte[] Comma = ","u8.ToArray();
}
