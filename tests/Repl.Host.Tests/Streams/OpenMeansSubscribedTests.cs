using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Repl.Host.Tests.Infrastructure;
using Repl.Host.Tests.Security;

namespace Repl.Host.Tests.Streams;

/// <summary>
/// Open means subscribed: a stream counts from its response head, as <c>EventSource</c>'s <c>open</c> does, and every
/// message committed after the head arrived reaches it, in order, once.
/// </summary>
/// <remarks>
/// Each case starts a fresh node (the first round runs on a cold node) and then repeats the round on the warm one: open
/// a stream, wait for the head only, publish, and expect that message to be the stream's first. Before the start
/// position was fixed ahead of the head, a publish that landed between the head and the graph's start was skipped.
/// </remarks>
public sealed class OpenMeansSubscribedTests
{
    private const int Rounds = 15;

    public static TheoryData<bool, bool, int> Cases()
    {
        var cases = new TheoryData<bool, bool, int>();
        foreach (bool directWrites in new[] { true, false })
        foreach (bool auth in new[] { false, true })
        foreach (int topics in new[] { 1, 3 })
        {
            cases.Add(directWrites, auth, topics);
        }
        return cases;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task OpenThenPublish_TheStreamGetsTheMessage_ColdAndWarm(bool directWrites, bool auth, int topicCount)
    {
        string[] settings = ["--Sse:DirectWrites", directWrites ? "true" : "false"];
        await using var server = await ReplServer.StartAsync(null, auth ? Tokens.Settings(settings) : settings);
        string[] topics = [.. Enumerable.Range(0, topicCount).Select(i => $"chat:{i}")];
        string? admin = auth ? Tokens.Create(admin: true) : null;
        foreach (var topic in topics) await SendAsync(server, HttpMethod.Post, "/topics", $"{{\"name\":\"{topic}\"}}", admin, HttpStatusCode.Created);
        // A message already there before any stream: the stream must start after it, not before it or after the next.
        await PublishAsync(server, topics[0], "before", admin);

        string path = topicCount == 1 ? $"/topics/{topics[0]}/sse" : "/sse?" + string.Join('&', topics.Select(t => $"topic={t}"));
        for (int round = 0; round < Rounds; round++)
        {
            string query = auth ? (path.Contains('?') ? "&" : "?") + "access_token=" + Tokens.Create(subscribe: topics) : "";
            await using var stream = await SseStream.OpenAsync(server.BaseAddress, path + query);
            string topic = topics[round % topics.Length];
            long id = await PublishAsync(server, topic, $"round {round}", admin);

            var connected = JsonDocument.Parse((await stream.Connected).Data).RootElement;
            Assert.True(connected.GetProperty("position").GetInt64() < id,
                $"round {round}: the stream started at {connected.GetProperty("position")}, at or after the message {id} published after its head");
            var (received, message) = (await stream.MessagesAsync(1, TimeSpan.FromSeconds(10)))[0];
            Assert.Equal(id, received);
            Assert.Equal($"round {round}", message.GetProperty("value").GetString());
            Assert.False(await stream.HasMoreAsync(TimeSpan.FromMilliseconds(50)), $"round {round}: a message arrived twice or from before the head");
        }
    }

    private static async Task<long> PublishAsync(ReplServer server, string topic, string value, string? token)
    {
        string body = await SendAsync(server, HttpMethod.Post, $"/topics/{topic}", JsonSerializer.Serialize(new { value }), token, HttpStatusCode.Created);
        return long.Parse(JsonDocument.Parse(body).RootElement.GetProperty("data").GetProperty("id").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<string> SendAsync(ReplServer server, HttpMethod method, string path, string json, string? token, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await server.Client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path} answered {(int)response.StatusCode}: {body}");
        return body;
    }
}
