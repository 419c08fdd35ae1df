using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Repl.Actors.Cluster.Etcd;

public sealed partial class EtcdClient
{
    private static readonly MediaTypeHeaderValue JsonMediaType = new("application/json");

    /// <summary>
    /// Runs <paramref name="attempt"/> against endpoints, starting at the current one and
    /// rotating on transient failures, until it succeeds or the request timeout passes.
    /// </summary>
    private async Task<T> ExecuteAsync<T>(string operation, Func<int, CancellationToken, Task<T>> attempt, CancellationToken cancellationToken)
    {
        var time = _options.TimeProvider;
        var started = time.GetTimestamp();
        var tried = new List<Uri>(_endpoints.Length);
        var lastErrors = new Dictionary<Uri, string>();
        Exception? lastError = null;
        var index = Volatile.Read(ref _current);

        for (var round = 0; ; round++)
        {
            for (var i = 0; i < _endpoints.Length; i++)
            {
                var remaining = _options.RequestTimeout - time.GetElapsedTime(started);
                if (remaining <= TimeSpan.Zero)
                {
                    throw Unavailable(operation, tried, lastErrors, lastError);
                }

                var endpoint = _endpoints[index];
                if (!tried.Contains(endpoint))
                {
                    tried.Add(endpoint);
                }

                var attemptTimeout = remaining < _options.AttemptTimeout ? remaining : _options.AttemptTimeout;
                using var timeout = new CancellationTokenSource(attemptTimeout, time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                try
                {
                    return await attempt(index, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception e) when (IsTransient(e))
                {
                    lastError = e is OperationCanceledException
                        ? new TimeoutException($"{endpoint} did not answer within {attemptTimeout.TotalMilliseconds:0} ms.", e)
                        : e;
                    lastErrors[endpoint] = lastError.Message;
                    index = Rotate(index);
                }
            }

            // Every endpoint failed once: back off a little so a cluster in the middle of an
            // election (1–2 s with default settings) is not hammered, then go round again.
            var backoff = TimeSpan.FromMilliseconds(Math.Min(500, 50 << Math.Min(round, 4)));
            var left = _options.RequestTimeout - time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                throw Unavailable(operation, tried, lastErrors, lastError);
            }

            await Task.Delay(backoff < left ? backoff : left, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsTransient(Exception e) =>
        e is HttpRequestException or IOException or OperationCanceledException or JsonException or EtcdTransientException;

    /// <summary>Moves the shared cursor past a failed endpoint, unless another call already did.</summary>
    private int Rotate(int failed)
    {
        var next = (failed + 1) % _endpoints.Length;
        Interlocked.CompareExchange(ref _current, next, failed);
        return next;
    }

    private EtcdUnavailableException Unavailable(string operation, List<Uri> tried, Dictionary<Uri, string> errors, Exception? lastError)
    {
        var detail = new StringBuilder();
        foreach (var endpoint in tried)
        {
            detail.Append(detail.Length == 0 ? "" : "; ").Append(endpoint).Append(" (")
                .Append(errors.TryGetValue(endpoint, out var message) ? message : "not reached").Append(')');
        }

        return new EtcdUnavailableException(
            $"etcd unavailable: {operation} failed on every endpoint within {_options.RequestTimeout.TotalSeconds:0.###} s. Tried: {detail}.",
            tried.ToArray(),
            lastError);
    }

    private async Task<TResponse> UnaryAsync<TRequest, TResponse>(
        string path,
        TRequest request,
        JsonTypeInfo<TRequest> requestInfo,
        JsonTypeInfo<TResponse> responseInfo,
        CancellationToken cancellationToken)
        where TResponse : class
    {
        // Serialised once: failover resends the same bytes.
        var body = JsonSerializer.SerializeToUtf8Bytes(request, requestInfo);
        return await ExecuteAsync(
            path,
            (index, ct) => SendUnaryAsync(index, path, body, responseInfo, ct),
            cancellationToken).ConfigureAwait(false);
    }

    private async Task<TResponse> SendUnaryAsync<TResponse>(int index, string path, byte[] body, JsonTypeInfo<TResponse> responseInfo, CancellationToken ct)
        where TResponse : class
    {
        using var response = await PostAsync(index, path, body, streaming: false, ct).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        return await JsonSerializer.DeserializeAsync(stream, responseInfo, ct).ConfigureAwait(false)
            ?? throw new EtcdTransientException($"{_endpoints[index]} answered {path} with an empty body.");
    }

    /// <summary>Posts to one endpoint and returns the response once its status is a success.</summary>
    /// <remarks>With <paramref name="streaming"/> the body is left unread for the caller to stream.</remarks>
    private async Task<HttpResponseMessage> PostAsync(int index, string path, byte[] body, bool streaming, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, _baseUrls[index] + path);
        request.Content = new ByteArrayContent(body) { Headers = { ContentType = JsonMediaType } };
        if (streaming)
        {
            // grpc-gateway forwards Grpc-Metadata-* headers as gRPC metadata. "hasleader"
            // makes etcd end the stream when the member loses its leader, instead of
            // leaving a watch open on a member cut off from the quorum.
            request.Headers.TryAddWithoutValidation("Grpc-Metadata-hasleader", "true");
        }

        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            throw await ErrorFromResponseAsync(index, path, response, ct).ConfigureAwait(false);
        }
    }

    private async Task<Exception> ErrorFromResponseAsync(int index, string path, HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        string message;
        int? grpcCode = null;
        try
        {
            var error = JsonSerializer.Deserialize(text, EtcdJsonContext.Default.GatewayErrorDto);
            message = error?.Message ?? error?.Error ?? text;
            grpcCode = error?.Code;
        }
        catch (JsonException)
        {
            message = text.Length > 200 ? text[..200] : text;
        }

        var where = $"{_endpoints[index]}{path}";
        if (status >= 500 || response.StatusCode == HttpStatusCode.TooManyRequests)
        {
            // Unavailable (no leader, leader changed, request timed out) and overload: another member may do better.
            return new EtcdTransientException($"{where} answered {status}: {message}");
        }

        return grpcCode is { } code
            ? new EtcdException($"etcd refused {path}: {message}", code, status)
            : new EtcdException($"etcd refused {path} with HTTP {status}: {message}");
    }

    /// <summary>A failure worth retrying on another endpoint; never escapes the client.</summary>
    [DebuggerDisplay("{Message}")]
    private sealed class EtcdTransientException(string message) : Exception(message);
}
