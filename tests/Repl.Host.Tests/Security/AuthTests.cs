using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.Tokens;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Security;

public sealed class AuthTests(AuthServerFixture fixture) : IClassFixture<AuthServerFixture>
{
    private ReplServer Server => fixture.Server;

    [Fact]
    public async Task Stream_TokenExpires_EndsWithExpiredEvent()
    {
        var token = Tokens.Create(subscribe: new[] { "orders" }, lifetime: TimeSpan.FromSeconds(2));
        await using var stream = await SseStream.OpenAsync(Server.BaseAddress, $"/topics/orders/sse?access_token={token}");
        var started = DateTime.UtcNow;
        var next = await stream.NextNonPingAsync(TimeSpan.FromSeconds(6));
        while (next.Type == "message") next = await stream.NextNonPingAsync(TimeSpan.FromSeconds(6));
        Assert.Equal("expired", next.Type);
        Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(5));
        Assert.True(await stream.EndedAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Stream_AccessTokenQuery_ReceivesMessages()
    {
        var token = Tokens.Create(publish: new[] { "orders" }, subscribe: new[] { "orders" });
        await using var stream = await SseStream.OpenAsync(Server.BaseAddress, $"/sse?topic=orders&access_token={token}");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/topics/orders") { Content = AuthServerFixture.Json("{\"value\":\"via query\"}") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.Created, (await Server.Client.SendAsync(request)).StatusCode);
        var messages = await stream.MessagesAsync(1);
        Assert.Equal("via query", messages[0].Message.GetProperty("value").GetString());
    }

    [Fact]
    public async Task Publish_TokenInCookie_IsAccepted()
    {
        var token = Tokens.Create(publish: "orders other");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/topics/orders") { Content = AuthServerFixture.Json("{\"value\":\"cookie\"}") };
        request.Headers.Add("Cookie", $"repl_token={token}");
        Assert.Equal(HttpStatusCode.Created, (await Server.Client.SendAsync(request)).StatusCode);
    }

    [Theory]
    [InlineData("orders")]
    [InlineData("x,orders")]
    [InlineData("x orders")]
    [InlineData("ord*")]
    [InlineData("*")]
    public async Task Publish_StringClaimForms_GrantTopic(string claim)
    {
        Assert.Equal(HttpStatusCode.Created, await PublishAsync("orders", Tokens.Create(publish: claim)));
    }

    [Theory]
    [InlineData("order")]
    [InlineData("orders:*")]
    [InlineData("x y")]
    public async Task Publish_NonMatchingPattern_Returns403(string claim)
    {
        Assert.Equal(HttpStatusCode.Forbidden, await PublishAsync("orders", Tokens.Create(publish: claim)));
    }

    [Fact]
    public async Task Admin_GrantsEverything_AndSubscribeDoesNotGrantPublish()
    {
        Assert.Equal(HttpStatusCode.Created, await PublishAsync("secret", Tokens.Create(admin: true)));
        Assert.Equal(HttpStatusCode.Forbidden, await PublishAsync("orders", Tokens.Create(subscribe: new[] { "*" })));
    }

    [Fact]
    public async Task CreateTopic_NameCheckedAsTheHandlerReadsIt()
    {
        var token = Tokens.Create(publish: new[] { "room:*" });
        // Case-insensitive property, trailing data: the handler would read "secret2" from both.
        foreach (var body in new[] { "{\"NAME\":\"secret2\"}", "{\"name\":\"secret2\"} {\"name\":\"room:x\"}" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/topics") { Content = AuthServerFixture.Json(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await Server.Client.SendAsync(request);
            Assert.True(response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.BadRequest, $"{body}: {(int)response.StatusCode}");
        }
        Assert.False(Server.Registry.TryGet("secret2", out _));
    }

    [Fact]
    public async Task MalformedToken_Returns401_WithCause()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/topics/orders") { Content = AuthServerFixture.Json("{\"value\":\"x\"}") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not.a.jwt");
        using var response = await Server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("invalid token", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task KeyFile_Rs256AndEs256_WithIssuerAndAudience()
    {
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var dir = TempDir.Create();
        var keyFile = Path.Combine(dir, "keys.pem");
        await File.WriteAllTextAsync(keyFile, rsa.ExportSubjectPublicKeyInfoPem() + "\n" + ec.ExportSubjectPublicKeyInfoPem() + "\n");
        await using var server = await ReplServer.StartAsync(null, "--Auth:KeyFile", keyFile, "--Auth:Issuer", "https://issuer.test",
            "--Auth:Audience", "repl", "--Auth:ClockSkew", "00:00:00");
        try
        {
            var rs256 = new SigningCredentials(new RsaSecurityKey(rsa), SecurityAlgorithms.RsaSha256);
            var es256 = new SigningCredentials(new ECDsaSecurityKey(ec), SecurityAlgorithms.EcdsaSha256);
            Assert.Equal(HttpStatusCode.Created, await PublishAsync(server, "demo", Tokens.Create("demo", credentials: rs256, issuer: "https://issuer.test", audience: "repl")));
            Assert.Equal(HttpStatusCode.Created, await PublishAsync(server, "demo", Tokens.Create("demo", credentials: es256, issuer: "https://issuer.test", audience: "repl")));
            Assert.Equal(HttpStatusCode.Unauthorized, await PublishAsync(server, "demo", Tokens.Create("demo", credentials: rs256, issuer: "https://other.test", audience: "repl")));
            Assert.Equal(HttpStatusCode.Unauthorized, await PublishAsync(server, "demo", Tokens.Create("demo", credentials: rs256, issuer: "https://issuer.test", audience: "other")));
            // A shared-secret token means nothing to a node that only has public keys.
            Assert.Equal(HttpStatusCode.Unauthorized, await PublishAsync(server, "demo", Tokens.Create("demo", issuer: "https://issuer.test", audience: "repl")));
        }
        finally
        {
            TempDir.Delete(dir);
        }
    }

    [Fact]
    public async Task JwksFile_VerifiesRs256TokensByKeyId()
    {
        using var rsa = RSA.Create(2048);
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = "k1" });
        var dir = TempDir.Create();
        var jwksFile = Path.Combine(dir, "jwks.json");
        await File.WriteAllTextAsync(jwksFile, JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", kid = jwk.Kid, n = jwk.N, e = jwk.E, use = "sig", alg = "RS256" } } }));
        await using var server = await ReplServer.StartAsync(null, "--Auth:JwksFile", jwksFile, "--Auth:ClockSkew", "00:00:00");
        try
        {
            var signing = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = "k1" }, SecurityAlgorithms.RsaSha256);
            Assert.Equal(HttpStatusCode.Created, await PublishAsync(server, "demo", Tokens.Create("demo", credentials: signing)));
            Assert.Equal(HttpStatusCode.Unauthorized, await PublishAsync(server, "demo", Tokens.Create("demo")));
        }
        finally
        {
            TempDir.Delete(dir);
        }
    }

    [Fact]
    public async Task JwksUrl_KeysAreFetched_AndARotatedKeyIsPickedUpWithoutARestart()
    {
        using var first = RSA.Create(2048);
        using var second = RSA.Create(2048);
        string jwks = Jwks(first, "k1");
        await using var provider = await JwksProvider.StartAsync(() => jwks);
        await using var server = await ReplServer.StartAsync(null, "--Auth:JwksUrl", provider.Url, "--Auth:ClockSkew", "00:00:00");

        Assert.Equal(HttpStatusCode.Created, await PublishAsync(server, "demo", Tokens.Create("demo", credentials: Rs256(first, "k1"))));
        Assert.Equal(1, provider.Requests);
        Assert.Equal(HttpStatusCode.Unauthorized, await PublishAsync(server, "demo", Tokens.Create("demo")));

        // The provider rotates to a new key: the first token naming it makes the node fetch the set again.
        jwks = Jwks(second, "k2");
        Assert.Equal(HttpStatusCode.Created, await PublishAsync(server, "demo", Tokens.Create("demo", credentials: Rs256(second, "k2"))));
        Assert.Equal(2, provider.Requests);
        // The old key is gone, and another unknown key within 30 s does not make the node fetch again.
        Assert.Equal(HttpStatusCode.Unauthorized, await PublishAsync(server, "demo", Tokens.Create("demo", credentials: Rs256(first, "k1"))));
        Assert.Equal(2, provider.Requests);
    }

    [Fact]
    public async Task JwksUrl_Unreachable_TheNodeStarts_AndRefusesTokens_ButNotAUrl_FailsAtStart()
    {
        using var rsa = RSA.Create(2048);
        await using (var server = await ReplServer.StartAsync(null, "--Auth:JwksUrl", "http://127.0.0.1:1/jwks.json"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await PublishAsync(server, "demo", Tokens.Create("demo", credentials: Rs256(rsa, "k1"))));
            Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health")).StatusCode);
        }
        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await ReplServer.StartAsync(null, "--Auth:JwksUrl", "keys.example/jwks.json"));
        Assert.Contains("Auth:JwksUrl", error.ToString());
    }

    private static SigningCredentials Rs256(RSA rsa, string keyId) => new(new RsaSecurityKey(rsa) { KeyId = keyId }, SecurityAlgorithms.RsaSha256);

    private static string Jwks(RSA rsa, string keyId)
    {
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = keyId });
        return JsonSerializer.Serialize(new { keys = new[] { new { kty = "RSA", kid = jwk.Kid, n = jwk.N, e = jwk.E, use = "sig", alg = "RS256" } } });
    }

    /// <summary>An identity provider's key endpoint: a real Kestrel app serving whatever set the test holds now.</summary>
    private sealed class JwksProvider : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _requests;

        private JwksProvider(WebApplication app, Func<string> jwks)
        {
            _app = app;
            app.MapGet("/jwks.json", () =>
            {
                Interlocked.Increment(ref _requests);
                return Results.Text(jwks(), "application/json");
            });
        }

        public string Url => _app.Urls.First() + "/jwks.json";

        public int Requests => Volatile.Read(ref _requests);

        public static async Task<JwksProvider> StartAsync(Func<string> jwks)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var provider = new JwksProvider(builder.Build(), jwks);
            await provider._app.StartAsync();
            return provider;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }

    [Fact]
    public async Task AnonymousSubscribe_OpensStreams_ButNotPublish_AndMetricsCanRequireAdmin()
    {
        await using var server = await ReplServer.StartAsync(null, Tokens.Settings("--Auth:AnonymousSubscribe", "true", "--Auth:MetricsRequiresAdmin", "true"));
        await using (var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await PublishAsync(server, "demo", null));
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.GetAsync("/metrics")).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.Create(admin: true));
        Assert.Equal(HttpStatusCode.OK, (await server.Client.SendAsync(request)).StatusCode);
        using var forbidden = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        forbidden.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.Create("*", "*"));
        Assert.Equal(HttpStatusCode.Forbidden, (await server.Client.SendAsync(forbidden)).StatusCode);
    }

    [Fact]
    public async Task AuthOff_EverythingOpen()
    {
        await using var server = await ReplServer.StartAsync();
        Assert.Equal(HttpStatusCode.Created, await PublishAsync(server, "demo", null));
    }

    private Task<HttpStatusCode> PublishAsync(string topic, string? token) => PublishAsync(Server, topic, token);

    private static async Task<HttpStatusCode> PublishAsync(ReplServer server, string topic, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}") { Content = AuthServerFixture.Json("{\"value\":\"x\"}") };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await server.Client.SendAsync(request);
        return response.StatusCode;
    }
}
