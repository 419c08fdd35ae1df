using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Repl.Host.Security;

/// <summary>
/// <c>Auth:JwksUrl</c>: an identity provider's JSON Web Key Set as JwtBearer's configuration manager, fetched at start and
/// every <c>Auth:JwksRefresh</c>, and at once when a token names a key the node does not hold (at most once per
/// <see cref="MinRefresh"/>), so the provider can rotate its keys without a restart of the node.
/// </summary>
/// <remarks>
/// <para>
/// IdentityModel's contract (<see cref="BaseConfigurationManager"/>, <see cref="IConfigurationManager{T}"/>) with its
/// <see cref="HttpDocumentRetriever"/> and a <see cref="JwksRetriever"/>, but not its stock
/// <see cref="ConfigurationManager{T}"/>, whose 8.x behaviour differs from what Repl promises: a refresh requested for an
/// unknown key runs in the background, so the token naming a rotated key is refused once; any bad signature (not only
/// an unknown key id) spends the refresh allowance; the automatic refresh is 5 minutes at least, with jitter; and before
/// a first success every request fetches again.
/// </para>
/// <para>
/// A failed fetch keeps the keys already held and is retried every <see cref="RetryAfterFailure"/>; until a first fetch
/// succeeds the configuration holds no key, so every token is refused (401, "the token's signature does not verify with
/// this node's keys"). A document without a usable signing key counts as a failed fetch.
/// </para>
/// </remarks>
internal sealed class JwksConfigurationManager : BaseConfigurationManager, IConfigurationManager<OpenIdConnectConfiguration>, IDisposable
{
    internal static readonly TimeSpan MinRefresh = TimeSpan.FromSeconds(30);
    internal static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(5);
    private const int MaxDocumentBytes = 1024 * 1024;

    private readonly TimeSpan _refresh;
    private readonly ILogger _logger;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10), MaxResponseContentBufferSize = MaxDocumentBytes };
    private readonly HttpDocumentRetriever _documents;
    private readonly JwksRetriever _retriever = new();
    private readonly SemaphoreSlim _fetching = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<bool> _first;
    private volatile OpenIdConnectConfiguration _current = new();
    // Environment.TickCount64 of the last fetch for an unknown key; initially one MinRefresh before the clock's zero.
    private long _lastOnDemand = -(long)MinRefresh.TotalMilliseconds;

    /// <summary>Starts the first fetch, then keeps the set fresh in the background.</summary>
    /// <exception cref="InvalidOperationException">The URL is not an absolute http(s) URL.</exception>
    public JwksConfigurationManager(string url, TimeSpan refresh, ILogger logger)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("https" or "http"))
        {
            throw new InvalidOperationException($"Auth:JwksUrl '{url}' is not an absolute http(s) URL");
        }
        MetadataAddress = parsed.AbsoluteUri;
        // Rotated-out keys must stop verifying at once: no fallback to an older set.
        UseLastKnownGoodConfiguration = false;
        // Plain http is the operator's choice (a provider on a private network); README says to use https elsewhere.
        _documents = new HttpDocumentRetriever(_http) { RequireHttps = false };
        _refresh = refresh > TimeSpan.Zero ? refresh : TimeSpan.FromMinutes(10);
        _logger = logger;
        _first = FetchAsync();
        _ = KeepFreshAsync();
    }

    /// <summary>The keys of the last good fetch (none before one), after waiting for the first fetch to end.</summary>
    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(CancellationToken cancel)
    {
        // Tokens that arrive while the node starts wait for the first fetch (bounded by the HTTP timeout) rather than
        // being refused for want of keys.
        if (!_first.IsCompleted) await _first.WaitAsync(cancel).ConfigureAwait(false);
        return _current;
    }

    public override async Task<BaseConfiguration> GetBaseConfigurationAsync(CancellationToken cancel) =>
        await GetConfigurationAsync(cancel).ConfigureAwait(false);

    /// <summary>
    /// Does nothing: IdentityModel's token handler calls this after any failed signature or issuer, which a made-up
    /// token can cause at will. Fetches for rotated keys go through <see cref="RefreshForUnknownKeyAsync"/>, which looks
    /// at the key id first.
    /// </summary>
    public override void RequestRefresh()
    {
    }

    /// <summary>
    /// Fetches again, before the token is validated, when it names a key id that neither this set nor
    /// <paramref name="held"/> holds, unless such a fetch happened within <see cref="MinRefresh"/> (tokens with made-up
    /// key ids must not turn the node against the provider).
    /// </summary>
    public async Task RefreshForUnknownKeyAsync(string keyId, IEnumerable<SecurityKey>? held)
    {
        var configuration = await GetConfigurationAsync(CancellationToken.None).ConfigureAwait(false);
        if (configuration.SigningKeys.Concat(held ?? []).Any(key => key.KeyId == keyId)) return;
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastOnDemand);
        if (now - last < MinRefresh.TotalMilliseconds || Interlocked.CompareExchange(ref _lastOnDemand, now, last) != last) return;
        await FetchAsync().ConfigureAwait(false);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _http.Dispose();
    }

    private async Task KeepFreshAsync()
    {
        try
        {
            bool loaded = await _first.ConfigureAwait(false);
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
        try
        {
            await _fetching.WaitAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        try
        {
            var configuration = await _retriever.GetConfigurationAsync(MetadataAddress, _documents, _stop.Token).ConfigureAwait(false);
            _current = configuration;
            _logger.LogDebug("Loaded {Count} signing keys from {Url}", configuration.SigningKeys.Count, MetadataAddress);
            return true;
        }
        catch (Exception error) when (error is IOException or HttpRequestException or OperationCanceledException or InvalidOperationException
            or ArgumentException or System.Text.Json.JsonException)
        {
            if (_stop.IsCancellationRequested) return false;
            _logger.LogWarning("Could not load the signing keys from Auth:JwksUrl {Url}: {Error}; {Held} keys still held, retrying",
                MetadataAddress, error.Message, _current.SigningKeys.Count);
            return false;
        }
        finally
        {
            _fetching.Release();
        }
    }
}
