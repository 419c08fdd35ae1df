using System.Security.Cryptography;
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

/// <summary>
/// A backend for the events hook: a real Kestrel app on a loopback port that records every call it gets, checks its
/// Standard Webhooks signature, and answers what <see cref="Answer"/> says (200 by default; it may also hang).
/// </summary>
internal sealed class EventsBackend : IAsyncDisposable
{
    /// <summary>A <c>whsec_</c> secret of 32 random bytes, as Standard Webhooks writes one.</summary>
    public static readonly string Secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private readonly WebApplication _app;
    private readonly Channel<Call> _calls = Channel.CreateUnbounded<Call>();
    private readonly CancellationTokenSource _stopping = new();

    private EventsBackend(WebApplication app) => _app = app;

    /// <summary>One call as it arrived: its <c>webhook-id</c>, its body as JSON, and whether its signature checked out.</summary>
    public sealed record Call(string Id, JsonElement Body, bool SignatureValid)
    {
        public string Type => Body.GetProperty("type").GetString()!;
    }

    /// <summary>What to answer the call (its 1-based number): a status, or null to hang until the backend stops.</summary>
    public Func<int, int?> Answer { get; set; } = _ => StatusCodes.Status200OK;

    /// <summary>The URL the node posts events to.</summary>
    public string Url { get; private set; } = "";

    public static async Task<EventsBackend> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var backend = new EventsBackend(app);
        int count = 0;
        app.MapPost("/events", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            byte[] bytes = body.ToArray();
            string id = context.Request.Headers["webhook-id"].ToString();
            var headers = context.Request.Headers.ToDictionary(header => header.Key.ToLowerInvariant(), header => header.Value.ToString());
            bool valid = HookBackend.Verifies(HookBackend.SecretBytes(Secret), headers, bytes);
            backend._calls.Writer.TryWrite(new Call(id, JsonDocument.Parse(bytes).RootElement.Clone(), valid));
            if (backend.Answer(Interlocked.Increment(ref count)) is not { } status)
            {
                await Task.Delay(Timeout.Infinite, backend._stopping.Token).ContinueWith(_ => { });
                status = StatusCodes.Status200OK;
            }
            context.Response.StatusCode = status;
        });
        await app.StartAsync();
        backend.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/events";
        return backend;
    }

    /// <summary>The node's settings for this backend.</summary>
    public string[] Settings(params string[] more) => ["--Hooks:Events", Url, "--Hooks:Secret", Secret, .. more];

    /// <summary>The next call; fails the test when none comes within <paramref name="timeout"/>.</summary>
    public async Task<Call> NextAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        try
        {
            return await _calls.Reader.ReadAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("the events backend got no call in time");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }
}
