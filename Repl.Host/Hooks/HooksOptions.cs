namespace Repl.Host.Hooks;

/// <summary>Backend hooks (configuration section <c>Hooks</c>): the application's own server decides who may subscribe and what may be published.</summary>
/// <remarks>
/// Every hook is off until its URL is set. With none set no hook service is registered at all, and the stream and
/// publish routes do no hook work. A node whose hook settings cannot work does not start (<see cref="Validate"/>).
/// </remarks>
public sealed class HooksOptions
{
    /// <summary>Default of <see cref="ForwardHeaders"/>: what a backend needs to read its own session.</summary>
    public const string DefaultForwardHeaders = "Cookie, Authorization";

    /// <summary>Asked before a stream opens (absolute http or https URL); unset: no subscribe hook.</summary>
    public string? Subscribe { get; set; }

    /// <summary>Asked before a publish (or a batch) is handed to the batcher; unset: no publish hook.</summary>
    public string? Publish { get; set; }

    /// <summary>Told, after the fact, of topic and stream events; unset: no events hook.</summary>
    public string? Events { get; set; }

    /// <summary>
    /// The Standard Webhooks signing secret, at least 32 bytes: <c>whsec_&lt;base64&gt;</c> as the spec writes it, or any
    /// other text (its UTF-8 bytes). Required when a hook is set.
    /// </summary>
    public string? Secret { get; set; }

    /// <summary>Most time one hook call may take, answer included; past it the call failed (a blocking hook answers 503).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Request headers passed on to the hooks, comma or space separated (default <c>Cookie, Authorization</c>).</summary>
    public string ForwardHeaders { get; set; } = DefaultForwardHeaders;

    /// <summary>
    /// Most subscribe and publish hook calls in flight on this node, the two together: a reconnect storm cannot flood the
    /// backend. The events hook has its own bound (one call: its one sender waits for each answer).
    /// </summary>
    public int MaxInFlight { get; set; } = 64;

    /// <summary>How long a call waits for one of the <see cref="MaxInFlight"/> slots; past it the call failed (503).</summary>
    public TimeSpan SlotWait { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a blocking hook's decision is reused for the same question; zero (the default): never.</summary>
    public TimeSpan CacheFor { get; set; } = TimeSpan.Zero;

    /// <summary>Most events waiting for the events hook on this node; when full, the oldest is dropped for the new one.</summary>
    public int EventQueue { get; set; } = 10_000;

    /// <summary>The circuit breaker opens once at least this many calls within 10 s were made and half of them failed.</summary>
    public int BreakAfter { get; set; } = 10;

    /// <summary>How long an open breaker fails calls at once, before it lets one through to try the backend again.</summary>
    public TimeSpan BreakFor { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>True when any hook's URL is set.</summary>
    public bool Enabled => IsSet(Subscribe) || IsSet(Publish) || IsSet(Events);

    /// <summary>The URL of <paramref name="kind"/>'s hook, or null when it is not set.</summary>
    public Uri? UrlOf(HookKind kind)
    {
        string? url = kind switch
        {
            HookKind.Subscribe => Subscribe,
            HookKind.Publish => Publish,
            _ => Events,
        };
        return IsSet(url) ? new Uri(url!, UriKind.Absolute) : null;
    }

    /// <summary>The names in <see cref="ForwardHeaders"/>.</summary>
    internal string[] ForwardHeaderNames() =>
        (ForwardHeaders ?? "").Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The key <see cref="Secret"/> stands for: the bytes of <c>whsec_&lt;base64&gt;</c>, else its UTF-8 bytes.</summary>
    internal byte[] SecretBytes()
    {
        string secret = Secret ?? "";
        if (!secret.StartsWith(WebhookSigner.SecretPrefix, StringComparison.Ordinal)) return System.Text.Encoding.UTF8.GetBytes(secret);
        try
        {
            return Convert.FromBase64String(secret[WebhookSigner.SecretPrefix.Length..]);
        }
        catch (FormatException)
        {
            throw new SettingsException($"Hooks:Secret starts with {WebhookSigner.SecretPrefix} but what follows is not base64 (Standard Webhooks writes a secret whsec_<base64 of its bytes>)");
        }
    }

    /// <summary>
    /// Throws <see cref="SettingsException"/> (one line, exit code 2) for settings that cannot work: a URL that is
    /// not an absolute http(s) URL, a missing or short secret, cookies or tokens sent in clear to another machine, a
    /// bound or a time that is not positive.
    /// </summary>
    public void Validate()
    {
        if (!Enabled) return;
        string[] forwarded = ForwardHeaderNames();
        bool credentials = forwarded.Any(name => name.Equals("Cookie", StringComparison.OrdinalIgnoreCase) || name.Equals("Authorization", StringComparison.OrdinalIgnoreCase));
        foreach (var (setting, url) in new[] { ("Hooks:Subscribe", Subscribe), ("Hooks:Publish", Publish), ("Hooks:Events", Events) })
        {
            if (!IsSet(url)) continue;
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                throw new SettingsException($"{setting} '{url}' is not an absolute http:// or https:// URL");
            // A session cookie or a bearer token in clear over the network is anyone's on the path; loopback never leaves the machine.
            if (credentials && uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback)
                throw new SettingsException($"{setting} '{url}' is plain http:// to another machine, and Hooks:ForwardHeaders ({ForwardHeaders}) would send it the clients' Cookie or Authorization in clear: use https://, or leave them out of Hooks:ForwardHeaders");
        }
        if (string.IsNullOrEmpty(Secret))
            throw new SettingsException("Hooks:Secret is not set: every hook call is signed (Standard Webhooks); set a secret of at least 32 bytes, e.g. whsec_<base64 of 32 random bytes>");
        int length = SecretBytes().Length;
        if (length < WebhookSigner.MinSecretBytes)
            throw new SettingsException($"Hooks:Secret is {length} bytes: it must be at least {WebhookSigner.MinSecretBytes} (e.g. whsec_<base64 of 32 random bytes>)");
        SettingsException.ThrowUnlessPositive("Hooks:Timeout", Timeout, "the most one hook call may take");
        SettingsException.ThrowUnlessPositive("Hooks:SlotWait", SlotWait, "how long a hook call waits for a slot");
        SettingsException.ThrowUnlessPositive("Hooks:BreakFor", BreakFor, "how long an open circuit breaker stays open");
        if (BreakFor < TimeSpan.FromMilliseconds(500)) throw new SettingsException($"Hooks:BreakFor is {BreakFor}: it must be at least 00:00:00.5");
        if (MaxInFlight < 1) throw new SettingsException($"Hooks:MaxInFlight is {MaxInFlight}: it must be at least 1");
        if (EventQueue < 1) throw new SettingsException($"Hooks:EventQueue is {EventQueue}: it must be at least 1");
        if (BreakAfter < 2) throw new SettingsException($"Hooks:BreakAfter is {BreakAfter}: it must be at least 2");
        if (CacheFor < TimeSpan.Zero) throw new SettingsException($"Hooks:CacheFor is {CacheFor}: it must be zero (off) or a positive time span");
    }

    private static bool IsSet(string? url) => !string.IsNullOrWhiteSpace(url);
}
