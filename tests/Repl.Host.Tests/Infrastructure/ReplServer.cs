using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Repl.Actors.Topics;
using Repl.Host.Node;
using Repl.Sse;

namespace Repl.Host.Tests.Infrastructure;

/// <summary>A real Repl node on Kestrel, on a free loopback port, in this process. Data lives in a temp folder.</summary>
public sealed class ReplServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly bool _ownsDataDir;

    private ReplServer(WebApplication app, string dataDir, bool ownsDataDir)
    {
        _app = app;
        DataDir = dataDir;
        _ownsDataDir = ownsDataDir;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public string DataDir { get; }

    /// <summary>The engine as the routes write to it: publishes, topic changes, a retention round.</summary>
    public ReplNode Node => _app.Services.GetRequiredService<ReplNode>();

    /// <summary>The node's topic hubs and applied watermark.</summary>
    public TopicRegistry Registry => _app.Services.GetRequiredService<TopicRegistry>();

    /// <summary>The node's SSE streams' counters.</summary>
    public SseCounters Streams => _app.Services.GetRequiredService<SseCounters>();

    /// <summary>The node's container, for what a test checks about its wiring.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a node. Pass <paramref name="dataDir"/> to reopen an earlier node's journal.</summary>
    public static async Task<ReplServer> StartAsync(string? dataDir = null, params string[] settings)
    {
        bool owns = dataDir is null;
        dataDir ??= TempDir.Create();
        string[] args = ["--urls", "http://127.0.0.1:0", "--data-dir", dataDir, "--Node:Id", "test", "--Logging:LogLevel:Default", "Warning", .. settings];
        var app = ReplHost.Build(args);
        await app.StartAsync();
        return new ReplServer(app, dataDir, owns);
    }

    /// <summary>Stops gracefully and keeps the data folder (for a restart on the same journal).</summary>
    public async Task StopAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (ObjectDisposedException)
        {
        }
        if (_ownsDataDir) TempDir.Delete(DataDir);
    }
}
