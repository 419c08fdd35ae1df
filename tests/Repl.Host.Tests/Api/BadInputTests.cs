using System.Net;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Api;

/// <summary>Bad input gets a clear 4xx JSON error; nothing crashes, nothing committed is lost.</summary>
public sealed class BadInputTests : IAsyncLifetime
{
    private ReplServer _server = null!;

    public async Task InitializeAsync() => _server = await ReplServer.StartAsync(null, "--Limits:MaxBodyBytes", "1024");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string, string, string?, int, string> Cases => new()
    {
        { "POST", "/topics", "{not json", 400, "malformed JSON" },
        { "POST", "/topics", "", 400, "empty body" },
        { "POST", "/topics", """{"name":"has space"}""", 400, "invalid topic name" },
        { "POST", "/topics", """{"name":"$canary"}""", 400, "invalid topic name" },
        { "POST", "/topics", """{"name":""}""", 400, "invalid topic name" },
        { "POST", "/topics", """{"nom":"x"}""", 400, "missing name" },
        { "POST", "/topics", "[1,2]", 400, "malformed JSON" },
        { "POST", "/topics", """{"name":"demo"}""", 409, "topic exists" },
        { "POST", "/topics/demo", "{\"value\":", 400, "malformed JSON" },
        { "POST", "/topics/demo", """{"value":"x"} trailing""", 400, "malformed JSON" },
        { "POST", "/topics/demo", """{"value":"x","headers":{"n":1}}""", 400, "invalid headers" },
        { "POST", "/topics/demo", """{"value":"x","headers":[]}""", 400, "invalid headers" },
        { "POST", "/topics/demo", "\"just a string\"", 400, "invalid message" },
        { "POST", "/topics/demo", "{\"value\":\"\\ud800\"}", 400, "malformed JSON" },
        { "POST", "/topics/demo", "{\"value\":\"" + new string('x', 2000) + "\"}", 413, "body too large" },
        { "POST", "/topics/nope", """{"value":"x"}""", 404, "topic not found" },
        { "POST", "/topics/bad%20name", """{"value":"x"}""", 400, "invalid topic name" },
        { "POST", "/topics/demo/batch", "[]", 400, "invalid batch" },
        { "POST", "/topics/demo/batch", """{"value":"x"}""", 400, "invalid batch" },
        { "POST", "/topics/demo/batch", """[{"value":"x"},3]""", 400, "invalid batch" },
        { "POST", "/topics/demo/batch", """[{"value":"x"},{"headers":{}}]""", 400, "missing value" },
        { "GET", "/topics/nope", null, 404, "topic not found" },
        { "GET", "/topics/nope/sse", null, 404, "topic not found" },
        { "GET", "/topics/demo/sse?lastEventId=abc", null, 400, "invalid Last-Event-ID" },
        { "GET", "/topics/demo/sse?lastEventId=-5", null, 400, "invalid Last-Event-ID" },
        { "GET", "/sse", null, 400, "no topic" },
        { "GET", "/sse?topic=demo&topic=nope", null, 404, "topic not found" },
        { "GET", "/topics/demo/messages?after=x", null, 400, "invalid after" },
        { "GET", "/topics/demo/messages?limit=0", null, 400, "invalid limit" },
        { "GET", "/topics/demo/messages?limit=1000000", null, 400, "invalid limit" },
        { "GET", "/topics/demo/presence", null, 404, "presence off" },
        { "GET", "/topics/demo/presence/stats", null, 404, "presence off" },
        { "DELETE", "/topics/nope", null, 404, "topic not found" },
        { "PUT", "/topics", null, 405, "method not allowed" },
        { "PUT", "/topics/demo", null, 405, "method not allowed" },
        { "PATCH", "/topics/demo", null, 400, "empty body" },
        { "PATCH", "/topics/demo", "{\"publishRate\":-1}", 400, "invalid publishRate" },
        { "PATCH", "/topics/nope", "{\"presence\":true}", 404, "topic not found" },
        { "GET", "/no/such/route", null, 404, "not found" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task BadRequest_GetsAJsonError(string method, string path, string? body, int status, string error)
    {
        var (actual, json) = await _server.Client.SendAsync(new HttpMethod(method), path, body);
        Assert.Equal(status, (int)actual);
        Assert.Equal(error, json.GetProperty("error").GetString());
        Assert.False(string.IsNullOrWhiteSpace(json.GetProperty("cause").GetString()));
    }

    [Fact]
    public async Task InvalidTopicName_SaysWhichCharactersAreAllowed()
    {
        var (_, json) = await _server.Client.SendAsync(HttpMethod.Post, "/topics", """{"name":"a/b"}""");
        Assert.Contains("letters A-Z a-z, digits 0-9 and _ - . :", json.GetProperty("cause").GetString());
    }

    [Fact]
    public async Task AThousandMalformedRequests_LaterTheServerStillServes_AndLosesNothing()
    {
        long before = await _server.Client.PublishAsync("demo", "kept");
        // Over-limit bodies are left out: the server answers 413 before reading them and may close the connection mid-send.
        var bodies = Cases.Where(row => (int)row[3] != 413).Select(row => (string?)row[2]).Where(body => body is not null).ToArray();
        await Parallel.ForAsync(0, 1000, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
        {
            var (status, _) = await _server.Client.SendAsync(HttpMethod.Post, i % 3 == 0 ? "/topics" : "/topics/demo", bodies[i % bodies.Length]);
            Assert.InRange((int)status, 200, 499);
        });
        long after = await _server.Client.PublishAsync("demo", "still serving");
        Assert.True(after > before);
        var (_, history) = await _server.Client.SendAsync(HttpMethod.Get, $"/topics/demo/messages?after={before - 1}&limit=1");
        Assert.Equal("kept", history.GetProperty("messages")[0].GetProperty("value").GetString());
    }
}
