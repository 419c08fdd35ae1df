using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Repl.Actors.Log;
using Repl.Host.Api;
using Repl.Host.Metrics;
using Repl.Host.Security;

namespace Repl.Host.Tests.Api;

/// <summary>
/// How a failed write is answered: 503 either way (the status clients retry on), but "log unavailable" only when
/// nothing was committed, and "outcome unknown", with what a retry does, when its answer was lost.
/// </summary>
/// <remarks>
/// The node's error pipeline on a real Kestrel, with a route that fails as the engine does: a standalone node commits
/// to SQLite, whose failures are all known, and the cluster's lost answers are tested on etcd (SequencerOnEtcdTests).
/// </remarks>
public sealed class WriteOutcomeTests : IAsyncLifetime
{
    private WebApplication _app = null!;
    private HttpClient _client = null!;
    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, long> _failed = [];

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddMetrics();
        builder.Services.AddSingleton<ReplMetrics>();
        _app = builder.Build();
        _app.UseReplErrors(new LimitsOptions());
        _app.MapPost("/unknown", () => Throw(new OutcomeUnknownException("the log write's outcome is unknown (it may have been committed): DeadlineExceeded. "
            + "Retry it with the same Idempotency-Key (or idempotencyKey per batch item): it is committed once. Without a key a retry may publish it twice")));
        _app.MapPost("/refused", () => Throw(new LogUnavailableException("the log write failed, nothing of it was committed: etcd refused the transaction")));
        // This app's meter only: other tests' nodes in this process count their own.
        var meters = _app.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == "repl.writes.failed" && ReferenceEquals(instrument.Meter.Scope, meters)) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key != "outcome") continue;
                lock (_failed) _failed[(string)tag.Value!] = _failed.GetValueOrDefault((string)tag.Value!) + value;
            }
        });
        _listener.Start();
        _ = _app.Services.GetRequiredService<ReplMetrics>();
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _client = new HttpClient { BaseAddress = new Uri(address) };
    }

    private static IResult Throw(Exception error) => throw error;

    [Fact]
    public async Task AWriteWhoseAnswerWasLost_Gets503OutcomeUnknown_SayingARetryWithTheKeyIsSafe_AndIsCountedApart()
    {
        using var response = await _client.PostAsync("/unknown", null);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("outcome unknown", body.GetProperty("error").GetString());
        string cause = body.GetProperty("cause").GetString()!;
        Assert.Contains("may have been committed", cause);
        Assert.Contains("same Idempotency-Key", cause);
        Assert.DoesNotContain("nothing", cause);
        lock (_failed)
        {
            Assert.Equal(1, _failed.GetValueOrDefault("unknown"));
            Assert.Equal(0, _failed.GetValueOrDefault("not_committed"));
        }
    }

    [Fact]
    public async Task AWriteKnownToHaveCommittedNothing_Gets503LogUnavailable()
    {
        using var response = await _client.PostAsync("/refused", null);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("log unavailable", body.GetProperty("error").GetString());
        Assert.Contains("nothing of it was committed", body.GetProperty("cause").GetString());
        lock (_failed) Assert.Equal(1, _failed.GetValueOrDefault("not_committed"));
    }

    public async Task DisposeAsync()
    {
        _listener.Dispose();
        _client.Dispose();
        await _app.DisposeAsync();
    }
}
