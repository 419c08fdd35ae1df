using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text.Json;
using System.Threading.Channels;
using Repl.Sse;
using Xunit;

namespace Repl.Testing;

/// <summary>A test subscriber: reads what the server really sent, parsed as EventSource parses it.</summary>
public sealed class SseStream : IAsyncDisposable
{
    private readonly HttpClient _client;
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<SseEvent> _events = Channel.CreateUnbounded<SseEvent>();
    private readonly TaskCompletionSource<SseEvent> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reader;

    private SseStream(HttpClient client, HttpResponseMessage response)
    {
        _client = client;
        Response = response;
        _reader = Task.Run(async () =>
        {
            try
            {
                await using var body = await response.Content.ReadAsStreamAsync(_stop.Token);
                await foreach (var item in ReadAsync(body, _stop.Token))
                {
                    // The first event is `connected`: it goes to Connected, the rest to the readers.
                    if (!_connected.Task.IsCompleted)
                    {
                        if (item.Type == "connected")
                        {
                            _connected.TrySetResult(item);
                            continue;
                        }
                        _connected.TrySetException(new InvalidOperationException($"the stream's first event was '{item.Type}', not 'connected'"));
                    }
                    _events.Writer.TryWrite(item);
                }
                _events.Writer.TryComplete();
            }
            catch (Exception error)
            {
                _events.Writer.TryComplete(error is OperationCanceledException ? null : error);
            }
            _connected.TrySetException(new InvalidOperationException("the stream ended before its 'connected' event"));
        });
    }

    public HttpResponseMessage Response { get; }

    /// <summary>The stream's <c>event: connected</c>, which the readers of events never see.</summary>
    /// <remarks>
    /// <see cref="OpenAsync"/> does not wait for it: like <c>EventSource</c>'s <c>open</c>, a stream counts as subscribed
    /// when its response head arrives, and whatever is committed after that must reach it.
    /// </remarks>
    public Task<SseEvent> Connected => _connected.Task;

    /// <summary>The events of an SSE body, parsed by the runtime's <see cref="SseParser"/> (EventSource's rules).</summary>
    /// <remarks>A test sees each event's own <c>id:</c> and <c>retry:</c> (null where the event had none).</remarks>
    public static async IAsyncEnumerable<SseEvent> ReadAsync(Stream body, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var item in SseParser.Create(body).EnumerateAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return new SseEvent(item.EventType, item.EventId, item.Data, item.ReconnectionInterval is { } retry ? (int)retry.TotalMilliseconds : null);
        }
    }

    /// <summary>
    /// Opens a stream and returns as soon as its response head has arrived (<c>EventSource</c>'s <c>open</c>), before
    /// any event; throws if the server did not answer 200.
    /// </summary>
    public static async Task<SseStream> OpenAsync(Uri baseAddress, string pathAndQuery, string? lastEventId = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        var client = new HttpClient { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null) request.Headers.Add("Last-Event-ID", lastEventId);
        foreach (var (name, value) in headers ?? new Dictionary<string, string>()) request.Headers.Add(name, value);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"stream answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return new SseStream(client, response);
    }

    /// <summary>The next event of any type; fails the test after <paramref name="timeout"/>.</summary>
    public async Task<SseEvent> NextAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await _events.Reader.ReadAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("no SSE event arrived in time");
        }
    }

    /// <summary>The next non-ping event.</summary>
    public async Task<SseEvent> NextNonPingAsync(TimeSpan? timeout = null)
    {
        while (true)
        {
            var item = await NextAsync(timeout);
            if (item.Type != "ping") return item;
        }
    }

    /// <summary>The position in a stream id (<c>position@epoch</c>).</summary>
    public static long Position(string id) => long.Parse(id.AsSpan(0, id.IndexOf('@') is var at and >= 0 ? at : id.Length), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The epoch in a stream id (<c>position@epoch</c>).</summary>
    public static string Epoch(string id) => id[(id.IndexOf('@') + 1)..];

    /// <summary>The next <paramref name="count"/> message events, as parsed JSON (pings skipped; any other event fails).</summary>
    public async Task<List<(long Id, JsonElement Message)>> MessagesAsync(int count, TimeSpan? timeout = null)
    {
        var messages = new List<(long, JsonElement)>(count);
        while (messages.Count < count)
        {
            var item = await NextNonPingAsync(timeout);
            Assert.Equal("message", item.Type);
            var json = JsonDocument.Parse(item.Data).RootElement.Clone();
            long position = Position(item.Id!);
            Assert.Equal(position.ToString(System.Globalization.CultureInfo.InvariantCulture), json.GetProperty("id").GetString());
            messages.Add((position, json));
        }
        return messages;
    }

    /// <summary>Whether another message arrives within <paramref name="timeout"/> (pings skipped).</summary>
    public async Task<bool> HasMoreAsync(TimeSpan timeout)
    {
        try
        {
            return (await NextNonPingAsync(timeout)).Type == "message";
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>True when the server ended the stream (after all buffered events were read).</summary>
    public async Task<bool> EndedAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            while (await _events.Reader.WaitToReadAsync(cancel.Token))
            {
                if (_events.Reader.TryRead(out var item) && item.Type != "ping") return false;
            }
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (Exception)
        {
            return true; // the connection broke: also an end
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Response.Dispose();
        _client.Dispose();
        try
        {
            await _reader;
        }
        catch
        {
            // the reader ends with the connection
        }
        _stop.Dispose();
    }
}
