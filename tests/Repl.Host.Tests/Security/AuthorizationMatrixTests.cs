using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Security;

/// <summary>A node with HS256 auth on, shared by the matrix.</summary>
public sealed class AuthServerFixture : IAsyncLifetime
{
    public ReplServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await ReplServer.StartAsync(null, Tokens.Settings("--Topics:Presence", "true"));
        var admin = Tokens.Create(admin: true);
        foreach (var topic in new[] { "orders", "secret" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/topics") { Content = Json($"{{\"name\":\"{topic}\"}}") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", admin);
            Assert.Equal(HttpStatusCode.Created, (await Server.Client.SendAsync(request)).StatusCode);
        }
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();

    internal static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");
}

/// <summary>Every route × every kind of token: what each answers.</summary>
public sealed class AuthorizationMatrixTests(AuthServerFixture fixture) : IClassFixture<AuthServerFixture>
{
    private static readonly string[] Granted = ["orders", "room:*"];

    /// <summary>Route name → whether it is open (no permission needed).</summary>
    private static readonly Dictionary<string, bool> Routes = new()
    {
        ["publish"] = false,
        ["batch"] = false,
        ["create"] = false,
        ["delete"] = false,
        ["history"] = false,
        ["topic-sse"] = false,
        ["multi-sse"] = false,
        // Least exposure with auth on: the list and topic info need a subscribe grant, /metrics an admin token.
        ["list"] = false,
        ["info"] = false,
        // Presence: who reads a topic, for whoever may read it.
        ["presence"] = false,
        ["presence-stats"] = false,
        ["cluster"] = false,
        ["settings"] = false,
        ["health"] = true,
        ["healthz"] = true,
        ["readyz"] = true,
        ["metrics"] = false,
    };

    private static readonly string[] Cases = ["none", "bad-signature", "expired", "wrong-topic", "granted"];

    public static TheoryData<string, string> Matrix()
    {
        var data = new TheoryData<string, string>();
        foreach (var route in Routes.Keys)
        {
            foreach (var tokenCase in Cases) data.Add(route, tokenCase);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Route_WithToken_AnswersByGrant(string route, string tokenCase)
    {
        var client = fixture.Server.Client;
        string? token = tokenCase switch
        {
            "none" => null,
            "bad-signature" => Tokens.BadSignature(Granted, Granted),
            "expired" => Tokens.Expired(Granted, Granted),
            _ => Tokens.Create(Granted, Granted),
        };
        // "wrong-topic" aims at a topic the token does not name; the others at one it does.
        bool wrong = tokenCase == "wrong-topic";
        string topic = wrong ? "secret" : "orders";
        string fresh = (wrong ? "secret-" : "room:") + Guid.NewGuid().ToString("N")[..8];
        if (route == "delete") await CreateAsAdminAsync(fresh);

        using var request = route switch
        {
            "publish" => new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}") { Content = AuthServerFixture.Json("{\"value\":\"hi\"}") },
            "batch" => new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}/batch") { Content = AuthServerFixture.Json("[{\"value\":\"a\"},{\"value\":\"b\"}]") },
            "create" => new HttpRequestMessage(HttpMethod.Post, "/topics") { Content = AuthServerFixture.Json($"{{\"name\":\"{fresh}\"}}") },
            "delete" => new HttpRequestMessage(HttpMethod.Delete, $"/topics/{fresh}"),
            "history" => new HttpRequestMessage(HttpMethod.Get, $"/topics/{topic}/messages"),
            "topic-sse" => new HttpRequestMessage(HttpMethod.Get, $"/topics/{topic}/sse"),
            "multi-sse" => new HttpRequestMessage(HttpMethod.Get, $"/sse?topic=orders&topic={topic}"),
            "list" => new HttpRequestMessage(HttpMethod.Get, "/topics"),
            "info" => new HttpRequestMessage(HttpMethod.Get, $"/topics/{topic}"),
            "presence" => new HttpRequestMessage(HttpMethod.Get, $"/topics/{topic}/presence"),
            "presence-stats" => new HttpRequestMessage(HttpMethod.Get, $"/topics/{topic}/presence/stats"),
            "settings" => new HttpRequestMessage(HttpMethod.Patch, $"/topics/{topic}") { Content = AuthServerFixture.Json("{\"presence\":true}") },
            "metrics" => new HttpRequestMessage(HttpMethod.Get, "/metrics"),
            var other => new HttpRequestMessage(HttpMethod.Get, "/" + other),
        };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        int expected = Routes[route] ? 200 : tokenCase switch
        {
            "none" or "bad-signature" or "expired" => 401,
            // The list names no topic: it shows the granted ones. Admin routes refuse any token without repl.admin.
            _ when route is "metrics" or "cluster" or "settings" => 403,
            "wrong-topic" when route == "list" => 200,
            "wrong-topic" => 403,
            _ => route is "publish" or "batch" or "create" ? 201 : 200,
        };
        if ((int)response.StatusCode != expected)
        {
            Assert.Fail($"{route} with {tokenCase}: expected {expected}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
        if (expected is 401 or 403)
        {
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.False(string.IsNullOrEmpty(body.GetProperty("error").GetString()));
            string cause = body.GetProperty("cause").GetString()!;
            Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString());
            switch (tokenCase)
            {
                case "expired":
                    Assert.Contains("expired", cause);
                    Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString());
                    break;
                case "bad-signature":
                    Assert.Contains("signature", cause);
                    Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString());
                    break;
                case "wrong-topic" when route is not ("metrics" or "cluster" or "settings"):
                    Assert.Contains("secret", cause);
                    break;
                case "wrong-topic" or "granted":
                    Assert.Contains("repl.admin", cause);
                    break;
            }
        }
        if (route.EndsWith("sse") && expected == 200) Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        if (route == "list" && expected == 200)
        {
            // Granted "orders" and "room:*": never "secret", whatever else the shared node holds.
            string[] names = JsonSerializer.Deserialize<string[]>(await response.Content.ReadAsStringAsync())!;
            Assert.Contains("orders", names);
            Assert.All(names, name => Assert.True(name == "orders" || name.StartsWith("room:", StringComparison.Ordinal), name));
        }
    }

    private async Task CreateAsAdminAsync(string name)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/topics") { Content = AuthServerFixture.Json($"{{\"name\":\"{name}\"}}") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Tokens.Create(admin: true));
        Assert.Equal(HttpStatusCode.Created, (await fixture.Server.Client.SendAsync(request)).StatusCode);
    }
}
