using System.Globalization;
using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;

namespace Voting;

/// <summary>Follows one Repl topic over SSE and never loses its place: after any disconnect it reconnects with
/// <c>Last-Event-ID</c> set to the last message it handed out, so the caller sees every message once, in log order.</summary>
/// <remarks>Control events (<c>connected</c>, <c>gap</c>, <c>deleted</c>) are passed through; pings are dropped. The stream is
/// parsed by the runtime's <see cref="SseParser"/>, as EventSource parses it.</remarks>
internal static class TopicStream
{
    public static async IAsyncEnumerable<SseItem<string>> FollowAsync(
        HttpClient client, string topic, long? after, Action<string>? log = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // The last stream id handed out, sent back as it came (position@epoch).
        string? last = after?.ToString(CultureInfo.InvariantCulture);
        var backoff = TimeSpan.FromMilliseconds(200);
        while (!cancellationToken.IsCancellationRequested)
        {
            HttpResponseMessage? response = null;
            Stream? stream = null;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/topics/{Uri.EscapeDataString(topic)}/sse");
                if (last is { } id) request.Headers.Add("Last-Event-ID", id);
                response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    string body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                    throw new InvalidOperationException($"GET /topics/{topic}/sse answered {(int)response.StatusCode}: {body}");
                }
                stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException exception)
            {
                response?.Dispose();
                log?.Invoke($"{topic}: cannot connect ({exception.Message}); retrying in {backoff.TotalMilliseconds:0} ms");
                await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromMilliseconds(Math.Min(backoff.TotalMilliseconds * 2, 5000));
                continue;
            }
            using (response)
            await using (stream)
            {
                var reader = SseParser.Create(stream).EnumerateAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
                try
                {
                    while (true)
                    {
                        SseItem<string> next;
                        try
                        {
                            if (!await reader.MoveNextAsync().ConfigureAwait(false)) break;
                            next = reader.Current;
                        }
                        catch (Exception exception) when (exception is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
                        {
                            log?.Invoke($"{topic}: stream broke ({exception.Message}); resuming after {last}");
                            break;
                        }
                        if (next.EventType == "ping") continue;
                        if (next.EventType == "message" && !string.IsNullOrEmpty(next.EventId))
                        {
                            last = next.EventId;
                            backoff = TimeSpan.FromMilliseconds(200);
                        }
                        yield return next;
                    }
                }
                finally
                {
                    await reader.DisposeAsync().ConfigureAwait(false);
                }
            }
            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
        }
    }
}
