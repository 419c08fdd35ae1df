using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Repl.Cli.Tests.Infrastructure;

namespace Repl.Cli.Tests.Commands;

/// <summary>The CLI's entry point against a real node: what it prints and which exit code scripts get.</summary>
public sealed class CommandTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private async Task<string> NewTopicAsync()
    {
        string topic = "cli-" + Guid.NewGuid().ToString("N")[..8];
        using var client = new HttpClient { BaseAddress = new Uri(node.Url) };
        using var response = await client.PostAsync("/topics", new StringContent($"{{\"name\":\"{topic}\"}}"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return topic;
    }

    [Fact]
    public async Task Publish_Topics_TailFrom_Json_RoundTrips()
    {
        string topic = await NewTopicAsync();
        var ids = new List<long>();
        foreach (var value in (string[])["one", "two \"quoted\"", "{\"x\":1}"])
        {
            var published = await CliRunner.RunAsync(["publish", topic, value, "--header", "who=ana", "-H", "n=1", "--url", node.Url, "--json"]);
            Assert.Equal(0, published.ExitCode);
            using var message = JsonDocument.Parse(published.Out);
            Assert.Equal(value, message.RootElement.GetProperty("value").GetString());
            Assert.Equal("ana", message.RootElement.GetProperty("headers").GetProperty("who").GetString());
            ids.Add(long.Parse(message.RootElement.GetProperty("id").GetString()!));
        }

        var topics = await CliRunner.RunAsync(["topics", "--url", node.Url, "--json"]);
        Assert.Equal(0, topics.ExitCode);
        using (var list = JsonDocument.Parse(topics.Out))
        {
            var info = list.RootElement.EnumerateArray().Single(t => t.GetProperty("name").GetString() == topic);
            Assert.Equal(3, info.GetProperty("messages").GetInt64());
            Assert.Equal(ids[^1], info.GetProperty("lastPosition").GetInt64());
        }

        // Resume after the first message: exactly the two that follow, as JSON lines, then exit 0 on --count.
        var tail = await CliRunner.RunAsync(["tail", topic, "--from", ids[0].ToString(), "--count", "2", "--timeout", "20", "--url", node.Url, "--json"]);
        Assert.Equal(0, tail.ExitCode);
        Assert.Equal(2, tail.Lines.Length);
        var values = tail.Lines.Select(line => JsonDocument.Parse(line).RootElement.GetProperty("value").GetString()!).ToArray();
        Assert.Equal(["two \"quoted\"", "{\"x\":1}"], values);
        Assert.Equal(ids[1].ToString(), JsonDocument.Parse(tail.Lines[0]).RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Publish_SameIdempotencyKey_CommittedOnceAndAnsweredWithTheFirstMessage()
    {
        string topic = await NewTopicAsync();
        string key = "order-" + Guid.NewGuid().ToString("N");
        var first = await CliRunner.RunAsync(["publish", topic, "paid", "--idempotency-key", key, "--url", node.Url, "--json"]);
        var retry = await CliRunner.RunAsync(["publish", topic, "paid", "--idempotency-key", key, "--url", node.Url, "--json"]);
        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, retry.ExitCode);
        using var one = JsonDocument.Parse(first.Out);
        using var two = JsonDocument.Parse(retry.Out);
        Assert.Equal(one.RootElement.GetProperty("id").GetString(), two.RootElement.GetProperty("id").GetString());
        Assert.Equal(one.RootElement.GetProperty("createdAt").GetString(), two.RootElement.GetProperty("createdAt").GetString());

        var other = await CliRunner.RunAsync(["publish", topic, "paid", "--idempotency-key", key + "-2", "--url", node.Url, "--json"]);
        Assert.Equal(0, other.ExitCode);
        var topics = await CliRunner.RunAsync(["topics", "--url", node.Url, "--json"]);
        using var list = JsonDocument.Parse(topics.Out);
        Assert.Equal(2, list.RootElement.EnumerateArray().Single(t => t.GetProperty("name").GetString() == topic).GetProperty("messages").GetInt64());
    }

    [Fact]
    public async Task Tail_FromAheadOfTheHead_ShowsResetThenTheTopicFromItsBeginning()
    {
        string topic = await NewTopicAsync();
        foreach (var value in (string[])["a", "b"]) Assert.Equal(0, (await CliRunner.RunAsync(["publish", topic, value, "--url", node.Url])).ExitCode);

        var tail = await CliRunner.RunAsync(["tail", topic, "--from", "999999999", "--count", "2", "--timeout", "20", "--url", node.Url, "--json"]);
        Assert.Equal(0, tail.ExitCode);
        Assert.Equal(3, tail.Lines.Length);
        using (var reset = JsonDocument.Parse(tail.Lines[0]))
        {
            Assert.Equal("reset", reset.RootElement.GetProperty("event").GetString());
            Assert.Equal("999999999", reset.RootElement.GetProperty("requested").GetString());
            Assert.Equal(0, reset.RootElement.GetProperty("position").GetInt64());
            Assert.Matches("^[0-9a-f]{8}$", reset.RootElement.GetProperty("epoch").GetString());
        }
        Assert.Equal(["a", "b"], tail.Lines[1..].Select(line => JsonDocument.Parse(line).RootElement.GetProperty("value").GetString()!));

        var human = await CliRunner.RunAsync(["tail", topic, "--from", "999999999", "--count", "2", "--timeout", "20", "--url", node.Url]);
        Assert.Equal(0, human.ExitCode);
        Assert.Contains("RESET", human.Out);
        Assert.Contains("resume point #999999999", human.Out);
    }

    [Fact]
    public async Task Topics_Human_PrintsTableWithoutColours()
    {
        string topic = await NewTopicAsync();
        var topics = await CliRunner.RunAsync(["topics", "--url", node.Url]);
        Assert.Equal(0, topics.ExitCode);
        Assert.Contains(topic, topics.Out);
        Assert.Contains("subscribers", topics.Out);
        Assert.DoesNotContain("\u001b[", topics.Out);
    }

    [Fact]
    public async Task Tail_LiveMessage_ArrivesAfterConnect()
    {
        string topic = await NewTopicAsync();
        var tail = CliRunner.RunAsync(["tail", topic, "--count", "1", "--timeout", "20", "--url", node.Url]);
        // A live tail has no --from: publish until it has seen one (the first may precede its connect).
        while (!tail.IsCompleted)
        {
            await CliRunner.RunAsync(["publish", topic, "live!", "--url", node.Url]);
            await Task.WhenAny(tail, Task.Delay(200));
        }
        var result = await tail;
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("live!", result.Out);
    }

    [Fact]
    public async Task Tail_TakenOffItsTopicByTheServerApi_SaysSoAndExits1_InsteadOfSubscribingAgain()
    {
        string topic = await NewTopicAsync();
        using var client = new HttpClient { BaseAddress = new Uri(node.Url) };
        using (var presence = await client.PatchAsync($"/topics/{topic}", new StringContent("{\"presence\":true}")))
            Assert.Equal(HttpStatusCode.OK, presence.StatusCode);
        var tail = CliRunner.RunAsync(["tail", topic, "--timeout", "20", "--url", node.Url, "--json"]);
        // The stream's client id, from the topic's presence once the tail is counted there.
        string? id = null;
        for (var waited = TimeSpan.Zero; id is null && waited < TimeSpan.FromSeconds(20); waited += TimeSpan.FromMilliseconds(100))
        {
            using var page = JsonDocument.Parse(await client.GetStringAsync($"/topics/{topic}/presence"));
            id = page.RootElement.GetProperty("clients").EnumerateArray().Select(c => c.GetProperty("client").GetString()).FirstOrDefault();
            if (id is null) await Task.Delay(100);
        }
        Assert.NotNull(id);
        using (var removed = await client.DeleteAsync($"/topics/{topic}/clients/{id}"))
            Assert.Equal(HttpStatusCode.OK, removed.StatusCode);

        var result = await tail;
        Assert.Equal(1, result.ExitCode);
        using var last = JsonDocument.Parse(result.Lines[^1]);
        Assert.Equal("unsubscribed", last.RootElement.GetProperty("event").GetString());
        Assert.Equal(topic, last.RootElement.GetProperty("topic").GetString());
        Assert.DoesNotContain("resuming", result.Err);
    }

    [Fact]
    public async Task Tail_TimeoutBeforeCount_Exits124()
    {
        string topic = await NewTopicAsync();
        var tail = await CliRunner.RunAsync(["tail", topic, "--count", "5", "--timeout", "0.5", "--url", node.Url]);
        Assert.Equal(124, tail.ExitCode);
        Assert.Contains("timed out", tail.Err);
    }

    [Fact]
    public async Task Tail_CtrlC_Exits130()
    {
        string topic = await NewTopicAsync();
        using var interrupt = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var tail = await CliRunner.RunAsync(["tail", topic, "--url", node.Url], interrupt.Token);
        Assert.Equal(130, tail.ExitCode);
    }

    [Fact]
    public async Task Publish_UnknownTopic_Exits1WithServerError()
    {
        var result = await CliRunner.RunAsync(["publish", "no-such-topic", "x", "--url", node.Url]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("404", result.Err);
        Assert.Contains("topic not found", result.Err);
        Assert.Contains("no-such-topic", result.Err);
    }

    [Fact]
    public async Task Tail_UnknownTopic_Json_Exits1WithServerErrorAsJson()
    {
        var result = await CliRunner.RunAsync(["tail", "no-such-topic", "--url", node.Url, "--json"]);
        Assert.Equal(1, result.ExitCode);
        using var error = JsonDocument.Parse(result.Err);
        Assert.Equal("topic not found", error.RootElement.GetProperty("error").GetString());
        Assert.Equal(404, error.RootElement.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task AnyCommand_UnreachableNode_Exits3NamingTheUrl()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        string url = $"http://127.0.0.1:{port}";
        foreach (var args in (string[][])[["topics"], ["publish", "demo", "x"], ["tail", "demo"], ["cluster"]])
        {
            var result = await CliRunner.RunAsync([.. args, "--url", url]);
            Assert.Equal(3, result.ExitCode);
            Assert.Contains($"cannot reach a Repl node at {url}/", result.Err);
        }
    }

    [Theory]
    [InlineData("publish", "only-topic")]
    [InlineData("tail")]
    [InlineData("nonsense")]
    [InlineData("tail", "demo", "--from", "abc")]
    [InlineData("publish", "demo", "x", "--header", "no-equals-sign")]
    [InlineData("publish", "demo", "x", "--idempotency-key", "has space")]
    [InlineData("topics", "--url", "ftp://example")]
    public async Task BadCommandLine_Exits2(params string[] args)
    {
        var result = await CliRunner.RunAsync([.. args, .. args.Contains("--url") ? Array.Empty<string>() : ["--url", node.Url]]);
        Assert.Equal(2, result.ExitCode);
        Assert.NotEmpty(result.Err);
    }

    [Fact]
    public async Task Cluster_Standalone_Exits0()
    {
        var result = await CliRunner.RunAsync(["cluster", "--url", node.Url, "--json"]);
        Assert.Equal(0, result.ExitCode);
        using var view = JsonDocument.Parse(result.Out);
        Assert.Equal("standalone", view.RootElement.GetProperty("mode").GetString());
    }

    [Fact]
    public async Task Bench_Small_DeliversEverythingAndReportsPercentiles()
    {
        var result = await CliRunner.RunAsync(["bench", "--messages", "300", "--subscribers", "2", "--url", node.Url, "--json"]);
        Assert.True(result.ExitCode == 0, result.Err);
        using var report = JsonDocument.Parse(result.Out);
        Assert.Equal(600, report.RootElement.GetProperty("delivered").GetInt64());
        Assert.True(report.RootElement.GetProperty("p99Ms").GetDouble() >= report.RootElement.GetProperty("p50Ms").GetDouble());
        // The throwaway topic is deleted afterwards.
        var topics = await CliRunner.RunAsync(["topics", "--url", node.Url, "--json"]);
        Assert.DoesNotContain(report.RootElement.GetProperty("topic").GetString()!, topics.Out);
    }

    [Fact]
    public async Task Help_Exits0()
    {
        var result = await CliRunner.RunAsync(["--help"]);
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("tail", result.Out);
    }
}
