using System.Net;
using System.Text;

namespace Repl.Host.Tests.Topics;

/// <summary>A topic's settings survive a kill -9 of a real node process: the journal, the sequencer and the hubs all get them back.</summary>
public sealed class TopicSettingsRestartTests
{
    [Fact]
    public async Task Settings_SurviveAKillAndRestart_AndAreStillEnforced()
    {
        await using var node = await ReplNodeProcess.StartAsync("settings-restart", etcd: null);
        await node.Client.CreateTopicAsync("kept");
        const string settings = """{"retention":{"maxMessages":10,"maxAge":"2.00:00:00"},"maxMessageBytes":120,"publishRate":0.01,"presence":true}""";
        var (status, changed) = await node.Client.SendAsync(HttpMethod.Patch, "/topics/kept", settings);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(settings, changed.GetProperty("settings").GetRawText());

        node.Kill();
        await node.RestartAsync();

        var (_, info) = await node.Client.SendAsync(HttpMethod.Get, "/topics/kept");
        Assert.Equal(settings, info.GetProperty("settings").GetRawText());
        // The node's size check, from the hub the journal rebuilt.
        var (tooLarge, _) = await node.Client.SendAsync(HttpMethod.Post, "/topics/kept", $$"""{"value":"{{new string('x', 200)}}"}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge);
        // The sequencer's rate, from the journal it recovered from: a new bucket lets one through, then refuses.
        await node.Client.PublishAsync("kept", "first after the restart");
        using var second = await node.Client.PostAsync("/topics/kept", new StringContent("""{"value":"second"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
    }
}
