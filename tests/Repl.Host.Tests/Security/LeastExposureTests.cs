using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Security;

/// <summary>With auth on, what a caller without the right grant can learn: topic names, topology, metrics.</summary>
public sealed class LeastExposureTests(AuthServerFixture fixture) : IClassFixture<AuthServerFixture>
{
    [Theory]
    [InlineData("/health")]
    [InlineData("/healthz")]
    [InlineData("/readyz")]
    public async Task HealthRoutes_StayOpen_AndNameNoTopic(string route)
    {
        using var response = await fixture.Server.Client.GetAsync(route);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("orders", body);
        Assert.DoesNotContain("secret", body);
    }

    [Fact]
    public async Task TopicList_ShowsOnlySubscribableTopics_AndAdminSeesAll()
    {
        Assert.Equal(["orders"], await ListAsync(fixture.Server, Tokens.Create(publish: new[] { "secret" }, subscribe: new[] { "orders" })));
        Assert.Empty(await ListAsync(fixture.Server, Tokens.Create(publish: new[] { "*" })));
        var all = await ListAsync(fixture.Server, Tokens.Create(admin: true));
        Assert.Contains("orders", all);
        Assert.Contains("secret", all);
    }

    [Fact]
    public async Task Cluster_NeedsAdmin()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/cluster");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.Create(admin: true));
        Assert.Equal(HttpStatusCode.OK, (await fixture.Server.Client.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task UnknownRoute_StillAnswers404_AndWrongMethod405()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Server.Client.GetAsync("/nowhere")).StatusCode);
        using var put = new HttpRequestMessage(HttpMethod.Put, "/topics/orders") { Content = AuthServerFixture.Json("{}") };
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await fixture.Server.Client.SendAsync(put)).StatusCode);
    }

    [Fact]
    public async Task AnonymousSubscribe_ListsAndDescribesEveryTopic()
    {
        await using var server = await ReplServer.StartAsync(null, Tokens.Settings("--Auth:AnonymousSubscribe", "true"));
        Assert.Contains("demo", await ListAsync(server, null));
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/topics/demo")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.GetAsync("/cluster")).StatusCode);
    }

    [Fact]
    public async Task Metrics_ScrapeToken_IsAccepted_AndNoOtherStaticToken()
    {
        await using var server = await ReplServer.StartAsync(null, Tokens.Settings("--Auth:MetricsToken", "scrape-0123456789"));
        Assert.Equal(HttpStatusCode.OK, await MetricsAsync(server, "scrape-0123456789"));
        Assert.Equal(HttpStatusCode.Unauthorized, await MetricsAsync(server, "scrape-wrong"));
        Assert.Equal(HttpStatusCode.Unauthorized, await MetricsAsync(server, null));
        Assert.Equal(HttpStatusCode.OK, await MetricsAsync(server, Tokens.Create(admin: true)));
        // The scrape token opens /metrics only.
        using var publish = new HttpRequestMessage(HttpMethod.Post, "/topics/demo") { Content = AuthServerFixture.Json("{\"value\":\"x\"}") };
        publish.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "scrape-0123456789");
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.SendAsync(publish)).StatusCode);
    }

    [Fact]
    public async Task Metrics_AllowedNetwork_NeedsNoToken_ButAnotherNetworkDoes()
    {
        await using (var server = await ReplServer.StartAsync(null, Tokens.Settings("--Auth:MetricsAllow", "127.0.0.0/8, ::1")))
        {
            Assert.Equal(HttpStatusCode.OK, await MetricsAsync(server, null));
        }
        await using (var server = await ReplServer.StartAsync(null, Tokens.Settings("--Auth:MetricsAllow", "10.0.0.0/8")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await MetricsAsync(server, null));
        }
        var error = await Assert.ThrowsAnyAsync<Exception>(async () => await ReplServer.StartAsync(null, Tokens.Settings("--Auth:MetricsAllow", "not-a-network")));
        Assert.Contains("Auth:MetricsAllow", error.ToString());
    }

    [Fact]
    public async Task AuthScheme_NamesAJwtBearerSchemeConfiguredFromTheStandardSection()
    {
        const string issuer = "https://idp.test";
        string secret = "idp-secret-0123456789abcdef-0123456789abcdef";
        await using var server = await ReplServer.StartAsync(null, "--Auth:Scheme", "idp",
            "--Authentication:Schemes:idp:ValidIssuer", issuer,
            "--Authentication:Schemes:idp:SigningKeys:0:Issuer", issuer,
            "--Authentication:Schemes:idp:SigningKeys:0:Value", Convert.ToBase64String(Encoding.UTF8.GetBytes(secret)));
        var credentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256);
        string token = Tokens.Create(publish: new[] { "demo" }, subscribe: new[] { "demo" }, credentials: credentials, issuer: issuer);

        using var publish = new HttpRequestMessage(HttpMethod.Post, "/topics/demo") { Content = AuthServerFixture.Json("{\"value\":\"x\"}") };
        publish.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.Created, (await server.Client.SendAsync(publish)).StatusCode);
        // Repl's token lookup applies to that scheme too.
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync($"/topics/demo?access_token={token}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.GetAsync("/topics/demo")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Client.GetAsync($"/topics/demo?access_token={Tokens.Create(subscribe: new[] { "demo" }, issuer: issuer)}")).StatusCode);
    }

    private static async Task<string[]> ListAsync(ReplServer server, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/topics");
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonSerializer.Deserialize<string[]>(await response.Content.ReadAsStringAsync())!;
    }

    private static async Task<HttpStatusCode> MetricsAsync(ReplServer server, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await server.Client.SendAsync(request);
        if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.False(string.IsNullOrEmpty(body.GetProperty("cause").GetString()));
            Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString());
        }
        return response.StatusCode;
    }
}
