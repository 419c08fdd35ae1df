using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Hooks.Backend;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Samples.Tests.Hooks;

/// <summary>The hooks sample backend on a loopback port, called the way a Repl node calls its hooks (signed, Standard Webhooks).</summary>
public sealed class HooksBackendTests : IAsyncLifetime
{
    private static readonly string Secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private WebApplication _app = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _app = BackendApp.Build(["--urls", "http://127.0.0.1:0", "--secret", Secret, "--Logging:LogLevel:Default", "Warning"]);
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _client = new HttpClient { BaseAddress = new Uri(address) };
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Subscribe_WithTheSessionCookie_AllowsItsUser_AndNarrowsToTheTopicsTheyMaySee()
    {
        string cookie = await LoginAsync("ana");
        var (status, answer) = await CallAsync("/hooks/subscribe", new
        {
            topics = new[] { "demo", "inbox:ana", "inbox:bob" },
            user = (string?)null,
            client = "c1",
            ip = "127.0.0.1",
            headers = new Dictionary<string, string> { ["Cookie"] = "theme=dark; " + cookie },
            claims = (object?)null,
        });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(answer.GetProperty("allow").GetBoolean());
        Assert.Equal(["demo", "inbox:ana"], answer.GetProperty("topics").EnumerateArray().Select(topic => topic.GetString()));
        Assert.Equal("ana", answer.GetProperty("user").GetString());
        Assert.True(answer.GetProperty("expiresIn").GetInt32() > 0);

        (status, answer) = await CallAsync("/hooks/subscribe", new { topics = new[] { "inbox:bob" }, headers = new Dictionary<string, string> { ["cookie"] = cookie } });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(answer.GetProperty("allow").GetBoolean());
        Assert.Contains("none of these topics", answer.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Subscribe_WithoutASession_Is401WithAReason()
    {
        var (status, answer) = await CallAsync("/hooks/subscribe", new { topics = new[] { "demo" }, headers = new Dictionary<string, string>() });
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.False(answer.GetProperty("allow").GetBoolean());
        Assert.Contains("log in", answer.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Publish_RefusesBadChatMessages_StoresGoodOnesTrimmedAndMarked()
    {
        var (_, refused) = await CallAsync("/hooks/publish", new { topic = "chat:lobby", value = "<script>alert(1)</script>", headers = new { } });
        Assert.False(refused.GetProperty("allow").GetBoolean());
        Assert.Equal("no scripts in messages", refused.GetProperty("reason").GetString());
        (_, refused) = await CallAsync("/hooks/publish", new { topic = "chat:lobby", value = new string('x', Rules.MaxValueLength + 1) });
        Assert.False(refused.GetProperty("allow").GetBoolean());

        var (status, allowed) = await CallAsync("/hooks/publish", new { topic = "chat:lobby", value = "  hello  ", headers = new { lang = "en" }, user = "ana" });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(allowed.GetProperty("allow").GetBoolean());
        Assert.Equal("hello", allowed.GetProperty("value").GetString());
        Assert.Equal("en", allowed.GetProperty("headers").GetProperty("lang").GetString());
        Assert.Equal("hooks-sample", allowed.GetProperty("headers").GetProperty("checked-by").GetString());

        // A batch: one call, refused whole when one message is bad, else each message rewritten.
        (_, refused) = await CallAsync("/hooks/publish", new { topic = "chat:lobby", messages = new object[] { new { value = "ok" }, new { value = " " } } });
        Assert.False(refused.GetProperty("allow").GetBoolean());
        (_, allowed) = await CallAsync("/hooks/publish", new { topic = "chat:lobby", messages = new object[] { new { value = " a " }, new { value = "b", headers = new { k = "v" } } } });
        var messages = allowed.GetProperty("messages").EnumerateArray().ToArray();
        Assert.Equal(["a", "b"], messages.Select(message => message.GetProperty("value").GetString()));
        Assert.Equal("v", messages[1].GetProperty("headers").GetProperty("k").GetString());

        // Other topics go through as they are.
        (_, allowed) = await CallAsync("/hooks/publish", new { topic = "news", value = "" });
        Assert.True(allowed.GetProperty("allow").GetBoolean());
        Assert.False(allowed.TryGetProperty("value", out _));
    }

    [Fact]
    public async Task ACallNotSignedWithTheSecret_Is401()
    {
        string cookie = await LoginAsync("ana");
        var body = new { topics = new[] { "demo" }, headers = new Dictionary<string, string> { ["Cookie"] = cookie } };
        var (status, answer) = await CallAsync("/hooks/subscribe", body, secret: "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("bad signature", answer.GetProperty("reason").GetString());
        // A replay: signed right, but long ago.
        (status, _) = await CallAsync("/hooks/subscribe", body, timestamp: DateTimeOffset.UtcNow.AddMinutes(-10));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact]
    public async Task Events_AreKeptAndListed()
    {
        var (status, _) = await CallAsync("/hooks/events", new { id = "evt_1", type = "topic.created", topic = "news", position = 7 }, expectJson: false);
        Assert.Equal(HttpStatusCode.NoContent, status);
        var listed = await _client.GetFromJsonAsync<JsonElement>("/events");
        Assert.Equal("topic.created", listed.EnumerateArray().Single().GetProperty("type").GetString());
    }

    private async Task<string> LoginAsync(string user)
    {
        using var response = await _client.PostAsJsonAsync("/login", new { user });
        response.EnsureSuccessStatusCode();
        string setCookie = response.Headers.GetValues("Set-Cookie").Single();
        return setCookie[..setCookie.IndexOf(';')];
    }

    /// <summary>POSTs <paramref name="call"/> as a node does: JSON, with the three Standard Webhooks headers.</summary>
    private async Task<(HttpStatusCode Status, JsonElement Answer)> CallAsync(string path, object call, string? secret = null, DateTimeOffset? timestamp = null, bool expectJson = true)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(call);
        string id = "msg_" + Guid.NewGuid().ToString("N");
        string seconds = (timestamp ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        byte[] key = Convert.FromBase64String((secret ?? Secret)["whsec_".Length..]);
        byte[] signed = [.. Encoding.UTF8.GetBytes($"{id}.{seconds}."), .. body];
        string signature = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add("webhook-id", id);
        request.Headers.Add("webhook-timestamp", seconds);
        request.Headers.Add("webhook-signature", signature);
        using var response = await _client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, expectJson ? JsonDocument.Parse(text).RootElement.Clone() : default);
    }
}
