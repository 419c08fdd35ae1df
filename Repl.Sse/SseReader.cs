using System.Runtime.CompilerServices;
using System.Text;

namespace Repl.Sse;

/// <summary>
/// Reads server-sent events from a stream the way a browser's EventSource does (WHATWG HTML §9.2.6):
/// lines end in LF, CR or CRLF; <c>data</c> lines join with LF; comments and unknown fields are ignored.
/// </summary>
/// <remarks>Used by the tests (to check what the server really sent), the bench and the CLI.</remarks>
public static class SseReader
{
    public static async IAsyncEnumerable<SseEvent> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 16 * 1024);
        string? type = null, id = null;
        int? retry = null;
        var data = new StringBuilder();
        bool hasData = false;
        // StreamReader.ReadLineAsync splits on LF, CR and CRLF, as the SSE grammar does.
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                if (hasData || type is not null)
                {
                    yield return new SseEvent(type ?? "message", id, data.ToString(), retry);
                }
                type = null;
                id = null;
                retry = null;
                data.Clear();
                hasData = false;
                continue;
            }
            if (line[0] == ':') continue;
            int colon = line.IndexOf(':');
            string field = colon < 0 ? line : line[..colon];
            string value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' ')) value = value[1..];
            switch (field)
            {
                case "event": type = value; break;
                case "id": id = value; break;
                case "retry" when int.TryParse(value, out int ms): retry = ms; break;
                case "data":
                    if (hasData) data.Append('\n');
                    data.Append(value);
                    hasData = true;
                    break;
            }
        }
    }
}
