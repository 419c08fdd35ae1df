using System.Net;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Api;

/// <summary>A topic can only be created under a name that URLs can address, on every route that names it.</summary>
public sealed class TopicNameTests : IAsyncLifetime
{
    private ReplServer _server = null!;

    public async Task InitializeAsync() => _server = await ReplServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData(".")] // /topics/./sse is /topics/sse after dot-segment removal
    [InlineData("..")] // /topics/../sse is /sse
    [InlineData("a.")] // a trailing dot some stacks trim: /topics/a. could reach a
    [InlineData("...")]
    [InlineData("a/b")] // a second path segment
    [InlineData("a%2Fb")] // an encoded one
    [InlineData("%2E")] // an encoded dot segment
    public async Task Create_ANameRoutingCannotAddress_Is400(string name)
    {
        var (status, body) = await _server.Client.SendAsync(HttpMethod.Post, "/topics", $$"""{"name":"{{name}}"}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid topic name", body.GetProperty("error").GetString());
        Assert.Contains("is not . or ..", body.GetProperty("cause").GetString());
    }

    [Theory]
    [InlineData("sse")]
    [InlineData("batch")]
    [InlineData("messages")]
    [InlineData("topics")]
    [InlineData(".hidden")]
    [InlineData("a.b")]
    [InlineData("a..b")]
    [InlineData("comments:42")]
    public async Task Create_ANameLikeARouteOrWithInnerDots_WorksOnEveryRoute(string name)
    {
        await _server.Client.CreateTopicAsync(name);

        long id = await _server.Client.PublishAsync(name, "hello");
        var (info, json) = await _server.Client.SendAsync(HttpMethod.Get, $"/topics/{name}");
        Assert.Equal(HttpStatusCode.OK, info);
        Assert.Equal(name, json.GetProperty("name").GetString());
        var (history, page) = await _server.Client.SendAsync(HttpMethod.Get, $"/topics/{name}/messages?after={id - 1}");
        Assert.Equal(HttpStatusCode.OK, history);
        Assert.Equal("hello", page.GetProperty("messages")[0].GetProperty("value").GetString());
        await using (var stream = await SseStream.OpenAsync(_server.BaseAddress, $"/topics/{name}/sse", lastEventId: $"{id - 1}"))
        {
            Assert.Equal("hello", (await stream.MessagesAsync(1))[0].Message.GetProperty("value").GetString());
        }
        var (deleted, _) = await _server.Client.SendAsync(HttpMethod.Delete, $"/topics/{name}");
        Assert.Equal(HttpStatusCode.OK, deleted);
    }
}
