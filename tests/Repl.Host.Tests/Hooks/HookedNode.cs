using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Hooks;

/// <summary>A backend and a real node whose subscribe and publish hooks point at it (timeout 1 s unless the settings say otherwise).</summary>
public sealed class HookedNode : IAsyncDisposable
{
    private HookedNode(HookBackend backend, ReplServer server)
    {
        Backend = backend;
        Server = server;
    }

    public HookBackend Backend { get; }

    public ReplServer Server { get; }

    public static async Task<HookedNode> StartAsync(params string[] settings)
    {
        var backend = await HookBackend.StartAsync();
        var server = await ReplServer.StartAsync(null, ["--Hooks:Subscribe", backend.SubscribeUrl, "--Hooks:Publish", backend.PublishUrl,
            "--Hooks:Secret", HookBackend.Secret, "--Hooks:Timeout", "00:00:01", .. settings]);
        return new HookedNode(backend, server);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        await Backend.DisposeAsync();
    }
}

/// <summary>One hooked node for a test class (its tests run one after another, each setting the backend's answer).</summary>
public sealed class HookedNodeFixture : IAsyncLifetime
{
    public HookedNode Node { get; private set; } = null!;

    // A breaker that never opens here: the failure tests of this class must not close the hook for the others.
    public async Task InitializeAsync() => Node = await HookedNode.StartAsync("--Hooks:BreakAfter", "1000");

    public async Task DisposeAsync() => await Node.DisposeAsync();
}
