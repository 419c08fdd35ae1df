using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Repl.Host;

namespace Repl.Cli.Tests.Infrastructure;

/// <summary>A real Repl node on Kestrel (in memory, free loopback port) in the test process, shared by a test class.</summary>
public sealed class NodeFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public string Url { get; private set; } = "";

    public async Task InitializeAsync()
    {
        _app = ReplHost.Build(["--urls", "http://127.0.0.1:0", "--in-memory", "--Node:Id", "cli-test", "--Logging:LogLevel:Default", "Warning"]);
        await _app.StartAsync();
        Url = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
    }

    public async Task DisposeAsync()
    {
        if (_app is null) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
