using System.Net;
using System.Text.Json;
using Repl.Testing;

namespace Repl.Host.Tests.ServerApi;

/// <summary><c>DELETE /topics/{name}/clients/{client}</c>: one stream off one topic; it goes on with the others, or ends.</summary>
public sealed class UnsubscribeTests(ServerApiFixture fixture) : IClassFixture<ServerApiFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private Task<SseStream> OpenAsync(params string[] topics) =>
        SseStream.OpenAsync(fixture.Server.BaseAddress, "/sse?" + string.Join('&', topics.Select(topic => "topic=" + topic)));

    /// <summary>The stream's client id, as its connected event says.</summary>
    private static async Task<string> ClientOf(SseStream stream) =>
        JsonDocument.Parse((await stream.Connected).Data).RootElement.GetProperty("client").GetString()!;

    [Fact]
    public async Task Unsubscribe_TakesTheClientOffOneTopic_AndTheStreamGoesOnWithTheOthers()
    {
        await fixture.CreateAsync("un-a", "un-b");
        await using var stream = await OpenAsync("un-a", "un-b");
        string client = await ClientOf(stream);

        var (status, body) = await fixture.Server.Client.SendAsync(HttpMethod.Delete, $"/topics/un-a/clients/{client}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, body.GetProperty("streams").GetInt32());
        var said = await stream.NextNonPingAsync(Wait);
        Assert.Equal("unsubscribed", said.Type);
        Assert.Equal("un-a", JsonDocument.Parse(said.Data).RootElement.GetProperty("topic").GetString());
        await fixture.Server.Client.PublishAsync("un-a", "not for it");
        long b = await fixture.Server.Client.PublishAsync("un-b", "for it");
        var next = await stream.MessagesAsync(1, Wait);
        Assert.Equal(b, next[0].Id);
    }

    [Fact]
    public async Task Unsubscribe_FromItsLastTopic_EndsTheStream()
    {
        await fixture.CreateAsync("un-last");
        await using var stream = await OpenAsync("un-last");
        string client = await ClientOf(stream);

        var (status, _) = await fixture.Server.Client.SendAsync(HttpMethod.Delete, $"/topics/un-last/clients/{client}");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("unsubscribed", (await stream.NextNonPingAsync(Wait)).Type);
        Assert.True(await stream.EndedAsync(Wait));
    }

    [Theory]
    [InlineData("/topics/un-bad/clients/no-such-client", HttpStatusCode.NotFound, "client not found")]
    [InlineData("/topics/un-other/clients/{client}", HttpStatusCode.NotFound, "client not found")]
    [InlineData("/topics/un-bad/clients/bad%20id", HttpStatusCode.BadRequest, "invalid client")]
    [InlineData("/topics/un-bad/clients/" + "x129xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", HttpStatusCode.BadRequest, "invalid client")]
    [InlineData("/topics/un-unknown/clients/{client}", HttpStatusCode.NotFound, "topic not found")]
    [InlineData("/topics/bad%20topic/clients/{client}", HttpStatusCode.BadRequest, "invalid topic name")]
    public async Task Unsubscribe_BadInput(string path, HttpStatusCode expected, string error)
    {
        await fixture.CreateAsync("un-bad", "un-other");
        // The client follows un-bad only: asked off un-other, it is not found there.
        await using var stream = await OpenAsync("un-bad");
        string client = await ClientOf(stream);

        var (status, body) = await fixture.Server.Client.SendAsync(HttpMethod.Delete, path.Replace("{client}", client, StringComparison.Ordinal));

        Assert.Equal(expected, status);
        Assert.Equal(error, body.GetProperty("error").GetString());
        // Bad input took nobody off anything.
        long id = await fixture.Server.Client.PublishAsync("un-bad", "still");
        Assert.Equal(id, (await stream.MessagesAsync(1, Wait))[0].Id);
    }
}
