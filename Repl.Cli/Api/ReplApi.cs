using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Repl.Cli.Api;

/// <summary>The node's HTTP API as the CLI uses it: every failure becomes a <see cref="ServerErrorException"/> or a <see cref="NodeUnreachableException"/>.</summary>
internal sealed class ReplApi : IDisposable
{
    /// <summary>How long a plain request may take; streams have no limit.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(15);

    private readonly HttpClient _client;

    public ReplApi(Uri baseAddress, string? token)
    {
        BaseAddress = baseAddress;
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) };
        _client = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(token)) _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    public Uri BaseAddress { get; }

    public const string IdempotencyHeader = "Idempotency-Key";

    public static string TopicPath(string topic, string suffix = "") => "topics/" + Uri.EscapeDataString(topic) + suffix;

    public Task<string> GetAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Get, path, null, cancellationToken);

    public Task<string> PostJsonAsync(string path, string json, CancellationToken cancellationToken) => SendAsync(HttpMethod.Post, path, json, cancellationToken);

    /// <summary>A publish: with an <paramref name="idempotencyKey"/>, a retry with the same key is committed once and answered as the first.</summary>
    public Task<string> PublishAsync(string path, string json, string? idempotencyKey, CancellationToken cancellationToken) =>
        SendAsync(HttpMethod.Post, path, json, cancellationToken, idempotencyKey);

    public Task<string> DeleteAsync(string path, CancellationToken cancellationToken) => SendAsync(HttpMethod.Delete, path, null, cancellationToken);

    /// <summary>Sends a request and returns the body of a 2xx answer.</summary>
    public async Task<string> SendAsync(HttpMethod method, string path, string? json, CancellationToken cancellationToken, string? idempotencyKey = null)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        using var request = new HttpRequestMessage(method, path);
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        if (idempotencyKey is not null) request.Headers.Add(IdempotencyHeader, idempotencyKey);
        try
        {
            using var response = await _client.SendAsync(request, timeout.Token).ConfigureAwait(false);
            string body = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) throw ToServerError(response.StatusCode, body);
            return body;
        }
        catch (HttpRequestException exception) when (exception.StatusCode is null)
        {
            throw new NodeUnreachableException(BaseAddress, Reason(exception), exception);
        }
        catch (OperationCanceledException exception) when (!cancellationToken.IsCancellationRequested)
        {
            throw new NodeUnreachableException(BaseAddress, $"no answer within {RequestTimeout.TotalSeconds:0} s", exception);
        }
    }

    /// <summary>Opens <paramref name="path"/> as an event stream, resuming after <paramref name="lastEventId"/> when given.</summary>
    /// <returns>The response, whose body is the stream; the caller disposes it.</returns>
    public async Task<HttpResponseMessage> OpenStreamAsync(string path, string? lastEventId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is { } id) request.Headers.Add("Last-Event-ID", id);
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException exception) when (exception.StatusCode is null)
        {
            throw new NodeUnreachableException(BaseAddress, Reason(exception), exception);
        }
        if (response.IsSuccessStatusCode) return response;
        using (response)
        {
            throw ToServerError(response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false));
        }
    }

    public void Dispose() => _client.Dispose();

    private static ServerErrorException ToServerError(HttpStatusCode status, string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("error", out var error))
            {
                string cause = document.RootElement.TryGetProperty("cause", out var c) ? c.ToString() : "";
                return new ServerErrorException((int)status, error.ToString(), cause);
            }
        }
        catch (JsonException)
        {
        }
        return new ServerErrorException((int)status, status.ToString(), body.Length > 200 ? body[..200] : body);
    }

    private static string Reason(HttpRequestException exception) => exception.HttpRequestError switch
    {
        HttpRequestError.ConnectionError => "connection refused or failed (is the node running? start one with `repl serve`)",
        HttpRequestError.NameResolutionError => "unknown host name",
        _ => exception.InnerException?.Message ?? exception.Message,
    };
}
