using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Repl.Host.Tests.Hooks;

/// <summary>One call a backend received: which hook, its JSON, its headers, and whether its signature checked out.</summary>
public sealed record HookCall(string Hook, JsonElement Body, IReadOnlyDictionary<string, string> Headers, bool SignatureValid);

/// <summary>
/// An application's backend, as a team would write one: a small Kestrel app on a loopback port that answers
/// <c>/subscribe</c> and <c>/publish</c> as the test says, and checks every call's Standard Webhooks signature with its
/// own copy of the secret (a call that does not verify is answered 401, as a real backend would).
/// </summary>
public sealed class HookBackend : IAsyncDisposable
{
    /// <summary>The secret node and backend share: 32 bytes, written the Standard Webhooks way.</summary>
    public static readonly string Secret = "whsec_" + Convert.ToBase64String(Encoding.UTF8.GetBytes("hooks-test-secret-0123456789abcd"));

    private readonly WebApplication _app;
    private readonly Channel<HookCall> _calls = Channel.CreateUnbounded<HookCall>();
    private readonly ConcurrentQueue<HookCall> _all = new();

    private HookBackend(WebApplication app)
    {
        _app = app;
        Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public Uri Url { get; }

    public string SubscribeUrl => new Uri(Url, "/subscribe").ToString();

    public string PublishUrl => new Uri(Url, "/publish").ToString();

    /// <summary>How the backend answers a call; by default it allows.</summary>
    public Func<HookCall, Task<IResult>> Answer { get; set; } = _ => Task.FromResult(Allow());

    /// <summary>Every call so far.</summary>
    public IReadOnlyCollection<HookCall> Calls => _all;

    public static IResult Allow(object? more = null) => Results.Text(
        more is null ? """{"allow":true}""" : JsonSerializer.Serialize(more), "application/json");

    /// <summary>Starts a backend that checks signatures with <paramref name="secret"/>.</summary>
    public static async Task<HookBackend> StartAsync(string? secret = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        HookBackend backend = null!; // made once the app listens and has its address; no call comes before that
        byte[] key = SecretBytes(secret ?? Secret);
        app.MapPost("/{hook}", async (string hook, HttpContext context) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer);
            byte[] body = buffer.ToArray();
            var headers = context.Request.Headers.ToDictionary(header => header.Key.ToLowerInvariant(), header => header.Value.ToString());
            bool valid = Verifies(key, headers, body);
            var call = new HookCall(hook, JsonDocument.Parse(body).RootElement.Clone(), headers, valid);
            backend._all.Enqueue(call);
            backend._calls.Writer.TryWrite(call);
            if (!valid) return Results.Json(new { reason = "bad signature" }, statusCode: 401);
            return await backend.Answer(call);
        });
        await app.StartAsync();
        return backend = new HookBackend(app);
    }

    /// <summary>The next call received; fails after <paramref name="timeout"/>.</summary>
    public async Task<HookCall> NextCallAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        return await _calls.Reader.ReadAsync(cancel.Token);
    }

    /// <summary>Forgets the calls so far.</summary>
    public void Clear()
    {
        while (_calls.Reader.TryRead(out _)) { }
        _all.Clear();
    }

    /// <summary>
    /// The check the README shows: HMAC-SHA256 of <c>id.timestamp.body</c> under the secret, compared in constant time
    /// with each <c>v1,</c> signature of the header, and a timestamp within five minutes.
    /// </summary>
    public static bool Verifies(byte[] secret, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        if (!headers.TryGetValue("webhook-id", out var id) || !headers.TryGetValue("webhook-timestamp", out var timestamp)
            || !headers.TryGetValue("webhook-signature", out var signatures) || !long.TryParse(timestamp, out long seconds)
            || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) > 300)
        {
            return false;
        }
        byte[] expected = HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes($"{id}.{timestamp}.").Concat(body).ToArray());
        return signatures.Split(' ').Any(signature => signature.StartsWith("v1,", StringComparison.Ordinal)
            && CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(signature[3..]), expected));
    }

    public static byte[] SecretBytes(string secret) =>
        secret.StartsWith("whsec_", StringComparison.Ordinal) ? Convert.FromBase64String(secret[6..]) : Encoding.UTF8.GetBytes(secret);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
