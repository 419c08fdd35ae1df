using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Api;

/// <summary>Where REPL and Repl could answer the same request differently, Repl's choice (README, "Compatibility with REPL").</summary>
public sealed class CompatibilityTests : IAsyncLifetime
{
    private ReplServer _server = null!;

    public async Task InitializeAsync() => _server = await ReplServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Publish_TheSeedDemosMessageShape_IsPublishedWithAnEmptyValue_AndAWarning()
    {
        // What the seed author's integration demo posts: no "value", the text under "message".
        using var response = await _server.Client.PostAsJsonAsync("/topics/demo", new { message = "hi", headers = new { user = "ana" } });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var data = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("data");
        Assert.Equal("", data.GetProperty("value").GetString());
        Assert.Equal("ana", data.GetProperty("headers").GetProperty("user").GetString());
        Assert.Contains("no \"value\"", Assert.Single(response.Headers.GetValues("X-Repl-Warning")));
    }

    [Theory]
    [InlineData("""{"value":null}""")]
    [InlineData("""{}""")]
    public async Task Publish_WithoutAValue_IsStoredAsEmpty_AsREPLDid(string body)
    {
        using var response = await _server.Client.PostAsync("/topics/demo", new StringContent(body));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.True(response.Headers.Contains("X-Repl-Warning"));
        long id = long.Parse(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("data").GetProperty("id").GetString()!);
        var (_, history) = await _server.Client.SendAsync(HttpMethod.Get, $"/topics/demo/messages?after={id - 1}&limit=1");
        Assert.Equal("", history.GetProperty("messages")[0].GetProperty("value").GetString());
    }

    [Fact]
    public async Task NonAsciiText_IsAnsweredAsWritten_InThePublishAnswerAndTheHistory_AsREPLDoes()
    {
        // REPL (Go's encoding/json) leaves non-ASCII as it is; System.Text.Json's default encoder wrote \u00E7.
        using var response = await _server.Client.PostAsync("/topics/demo", new StringContent("""{"value":"votação"}"""));
        string answer = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Contains("\"value\":\"votação\"", answer);
        long id = long.Parse(JsonDocument.Parse(answer).RootElement.GetProperty("data").GetProperty("id").GetString()!);
        string history = await _server.Client.GetStringAsync($"/topics/demo/messages?after={id - 1}&limit=1");
        Assert.Contains("\"value\":\"votação\"", history);
    }

    [Fact]
    public async Task Publish_WithAValue_HasNoWarning()
    {
        using var response = await _server.Client.PostAsJsonAsync("/topics/demo", new { value = "x" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Repl-Warning"));
    }

    [Fact]
    public async Task BatchPublish_WithoutAValue_Is400_ItIsRepls()
    {
        var (status, body) = await _server.Client.SendAsync(HttpMethod.Post, "/topics/demo/batch", """[{"value":"a"},{"message":"b"}]""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("missing value", body.GetProperty("error").GetString());
        Assert.Contains("item 1", body.GetProperty("cause").GetString());
    }
}
