using System.Net;
using Repl.Host.Tests.Infrastructure;
using Repl.Host.Tests.Security;

namespace Repl.Host.Tests.Hooks;

/// <summary>Hooks beside JWT auth: the token is checked first, and its user and claims go to the hook.</summary>
public sealed class HookAuthTests
{
    [Fact]
    public async Task WithJwtAuth_TheTokenIsCheckedFirst_AndTheHookGetsItsUserAndClaims()
    {
        await using var backend = await HookBackend.StartAsync();
        await using var server = await ReplServer.StartAsync(null, Tokens.Settings("--Hooks:Subscribe", backend.SubscribeUrl, "--Hooks:Secret", HookBackend.Secret));
        string token = Tokens.Create(subscribe: new[] { "demo" }, subject: "ana");

        await using (await SseStream.OpenAsync(server.BaseAddress, $"/topics/demo/sse?access_token={token}"))
        {
            var call = await backend.NextCallAsync();
            Assert.Equal("ana", call.Body.GetProperty("user").GetString());
            var claims = call.Body.GetProperty("claims");
            Assert.Equal("ana", claims.GetProperty("sub").GetString());
            Assert.True(claims.TryGetProperty("repl.subscribe", out _));
        }

        // No token: 401 from the node's own check, and the backend is never asked.
        backend.Clear();
        var (status, _) = await HookResilienceTests.OpenAsync(server, "/topics/demo/sse");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Empty(backend.Calls);
    }
}
