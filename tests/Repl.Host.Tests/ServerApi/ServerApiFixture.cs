using Repl.Host.Tests.Infrastructure;
using Repl.Testing;

namespace Repl.Host.Tests.ServerApi;

/// <summary>One node, auth off, shared by a class of server API tests; each test uses topics of its own.</summary>
public sealed class ServerApiFixture : IAsyncLifetime
{
    public ReplServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ReplServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();

    /// <summary>Creates each topic that does not exist yet.</summary>
    public async Task CreateAsync(params string[] topics)
    {
        foreach (var topic in topics)
        {
            if (!Server.Registry.TryGet(topic, out _)) await Server.Client.CreateTopicAsync(topic);
        }
    }

    /// <summary>The values a topic holds, from its history.</summary>
    public async Task<string[]> ValuesAsync(string topic)
    {
        var (_, body) = await Server.Client.SendAsync(HttpMethod.Get, $"/topics/{topic}/messages?after=0&limit=100");
        return [.. body.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("value").GetString()!)];
    }
}
