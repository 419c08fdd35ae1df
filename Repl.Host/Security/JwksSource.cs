using Microsoft.IdentityModel.Tokens;

namespace Repl.Host.Security;

/// <summary>
/// <c>Auth:JwksUrl</c>: an identity provider's JSON Web Key Set, fetched at start and every <c>Auth:JwksRefresh</c>,
/// and at once when a token names a key the node does not hold (at most once per <see cref="MinRefresh"/>), so the
/// provider can rotate its keys without a restart of the node.
/// </summary>
/// <remarks>
/// A failed fetch keeps the keys already held and is retried every <see cref="RetryAfterFailure"/>; until a first
/// fetch succeeds every token is refused (401, "the token's signature does not verify with this node's keys"). A
/// document without a usable signing key counts as a failed fetch.
/// </remarks>
internal sealed class JwksSource : IDisposable
{
    internal static readonly TimeSpan MinRefresh = TimeSpan.FromSeconds(30);
    internal static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(5);
    private const int MaxDocumentBytes = 1024 * 1024;

    private readonly Uri _url;
    private readonly TimeSpan _refresh;
    private readonly ILogger _logger;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10), MaxResponseContentBufferSize = MaxDocumentBytes };
    private readonly SemaphoreSlim _fetching = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private volatile IReadOnlyList<SecurityKey> _keys = [];
    // Environment.TickCount64 of the last fetch for an unknown key; initially one MinRefresh before the clock's zero.
    private long _lastOnDemand = -(long)MinRefresh.TotalMilliseconds;

    /// <summary>Fetches the set once (waiting at most the HTTP timeout), then keeps it fresh in the background.</summary>
    /// <exception cref="InvalidOperationException">The URL is not an absolute http(s) URL.</exception>
    public JwksSource(string url, TimeSpan refresh, ILogger logger)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("https" or "http"))
        {
            throw new InvalidOperationException($"Auth:JwksUrl '{url}' is not an absolute http(s) URL");
        }
        _url = parsed;
        _refresh = refresh > TimeSpan.Zero ? refresh : TimeSpan.FromMinutes(10);
        _logger = logger;
        bool loaded = FetchAsync().GetAwaiter().GetResult();
        _ = KeepFreshAsync(loaded);
    }

    /// <summary>The signing keys of the last good fetch.</summary>
    public IReadOnlyList<SecurityKey> Keys => _keys;

    /// <summary>
    /// Fetches again for a token that names an unknown key, unless such a fetch happened within <see cref="MinRefresh"/>
    /// (tokens with made-up key ids must not turn the node against the provider); true when keys were loaded.
    /// </summary>
    public Task<bool> RefreshForUnknownKeyAsync()
    {
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastOnDemand);
        if (now - last < MinRefresh.TotalMilliseconds || Interlocked.CompareExchange(ref _lastOnDemand, now, last) != last) return Task.FromResult(false);
        return FetchAsync();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _http.Dispose();
    }

    private async Task KeepFreshAsync(bool loaded)
    {
        try
        {
            while (true)
            {
                await Task.Delay(loaded ? _refresh : RetryAfterFailure, _stop.Token).ConfigureAwait(false);
                loaded = await FetchAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<bool> FetchAsync()
    {
        await _fetching.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
            string json = await _http.GetStringAsync(_url, _stop.Token).ConfigureAwait(false);
            var keys = new JsonWebKeySet(json).GetSigningKeys();
            if (keys.Count == 0) throw new InvalidOperationException("the set holds no usable signing key");
            _keys = [.. keys];
            _logger.LogDebug("Loaded {Count} signing keys from {Url}", keys.Count, _url);
            return true;
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException or InvalidOperationException or ArgumentException
            or System.Text.Json.JsonException)
        {
            if (_stop.IsCancellationRequested) return false;
            _logger.LogWarning("Could not load the signing keys from Auth:JwksUrl {Url}: {Error}; {Held} keys still held, retrying", _url, error.Message, _keys.Count);
            return false;
        }
        finally
        {
            _fetching.Release();
        }
    }
}
