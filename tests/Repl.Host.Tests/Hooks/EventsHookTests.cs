using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Hooks;

/// <summary>The events hook (<c>Hooks:Events</c>) against a real backend on loopback.</summary>
public sealed partial class EventsHookTests
{
    [Fact]
    public async Task TopicAndStreamLifecycle_ArriveSignedWithIds_InTheOrderTheyHappened()
    {
        await using var backend = await EventsBackend.StartAsync();
        await using var server = await ReplServer.StartAsync(null, backend.Settings());
        await backend.NextAsync(); // Topics:Initial's demo (InitialTopics_AreToldAsCreated_OnTheFirstStartOnly)

        await server.Client.CreateTopicAsync("orders");
        var created = await backend.NextAsync();
        string client;
        await using (var stream = await SseStream.OpenAsync(server.BaseAddress, "/sse?topic=orders&topic=demo"))
        {
            client = stream.Response.Headers.GetValues("X-Request-Id").Single();
            var opened = await backend.NextAsync();
            Assert.Equal("stream.opened", opened.Type);
            Assert.Equal(client, opened.Body.GetProperty("client").GetString());
            Assert.Equal(["orders", "demo"], opened.Body.GetProperty("topics").EnumerateArray().Select(topic => topic.GetString()));
        }
        var closed = await backend.NextAsync();
        var (status, _) = await server.Client.SendAsync(HttpMethod.Delete, "/topics/orders");
        Assert.Equal(HttpStatusCode.OK, status);
        var deleted = await backend.NextAsync();

        Assert.Equal("topic.created", created.Type);
        Assert.Equal("orders", created.Body.GetProperty("topic").GetString());
        Assert.True(created.Body.GetProperty("position").GetInt64() > 0);
        Assert.Equal("stream.closed", closed.Type);
        Assert.Equal(client, closed.Body.GetProperty("client").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, closed.Body.GetProperty("user").ValueKind);
        Assert.Equal("topic.deleted", deleted.Type);
        Assert.True(deleted.Body.GetProperty("position").GetInt64() > created.Body.GetProperty("position").GetInt64());
        var calls = new[] { created, closed, deleted };
        Assert.All(calls, call =>
        {
            Assert.True(call.SignatureValid);
            // The webhook-id is the event's id: a redelivery carries the same one.
            Assert.Equal(call.Id, call.Body.GetProperty("id").GetString());
            Assert.Equal("test", call.Body.GetProperty("node").GetString());
        });
        Assert.Equal(calls.Length, calls.Select(call => call.Id).Distinct().Count());
    }

    [Fact]
    public async Task FailedDelivery_IsTriedAgain_WithTheSameIdAndBody()
    {
        await using var backend = await EventsBackend.StartAsync();
        backend.Answer = call => call == 1 ? 500 : 200;
        await using var server = await ReplServer.StartAsync(null, backend.Settings());

        // The first event is Topics:Initial's demo, created as the node starts.
        var first = await backend.NextAsync();
        var again = await backend.NextAsync();
        Assert.Equal(first.Id, again.Id);
        Assert.Equal(first.Body.GetRawText(), again.Body.GetRawText());
        Assert.True(again.SignatureValid);

        // Delivered: the next call is the next event, not the same one a third time.
        await server.Client.CreateTopicAsync("after");
        var next = await backend.NextAsync();
        Assert.Equal("after", next.Body.GetProperty("topic").GetString());
    }

    [Fact]
    public async Task BackendThatHangs_SlowsNoPublishOrStream_AndAFullQueueDropsTheOldest()
    {
        await using var backend = await EventsBackend.StartAsync();
        backend.Answer = _ => null; // never answers
        await using var server = await ReplServer.StartAsync(null, backend.Settings("--Hooks:EventQueue", "2", "--Hooks:Timeout", "00:00:00.500"));

        // The first event (Topics:Initial's demo, created as the node starts) is taken by the sender and hangs at the
        // backend; the next ones queue behind it.
        await backend.NextAsync();
        for (int i = 1; i <= 5; i++) await server.Client.CreateTopicAsync($"t{i}");
        // Five queued behind the one in flight, two places: the three oldest were dropped as the others came.
        Assert.Equal(3, await DroppedAsync(server));

        // Publishes and streams go on as if there were no hook.
        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/t5/sse");
        await stream.Connected;
        for (int i = 0; i < 20; i++) await server.Client.PublishAsync("t5", $"m{i}");
        var messages = await stream.MessagesAsync(20);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), messages.Select(message => message.Message.GetProperty("value").GetString()));

        // Once the backend answers, the event in flight is delivered again, then what the queue kept: the two newest
        // (t5's creation, and the opening of the stream above).
        backend.Answer = _ => 200;
        var delivered = new List<string>();
        while (!delivered.Contains("stream.opened"))
        {
            var call = await backend.NextAsync(TimeSpan.FromSeconds(30));
            string what = call.Type == "topic.created" ? call.Body.GetProperty("topic").GetString()! : call.Type;
            if (!delivered.Contains(what)) delivered.Add(what);
        }
        Assert.Equal(["demo", "t5", "stream.opened"], delivered);
    }

    [Fact]
    public async Task InitialTopics_AreToldAsCreated_OnTheFirstStartOnly()
    {
        await using var backend = await EventsBackend.StartAsync();
        string dataDir = TempDir.Create();
        try
        {
            await using (var first = await ReplServer.StartAsync(dataDir, backend.Settings()))
            {
                // Topics:Initial (default demo) is created as the node starts, and told as a POST /topics would be.
                var created = await backend.NextAsync();
                Assert.Equal("topic.created", created.Type);
                Assert.Equal("demo", created.Body.GetProperty("topic").GetString());
                Assert.True(created.Body.GetProperty("position").GetInt64() > 0);
                // The node's internal readiness topic, made right after, is not the application's: the next event is the API's.
                await first.Client.CreateTopicAsync("after");
                Assert.Equal("after", (await backend.NextAsync()).Body.GetProperty("topic").GetString());
            }
            // Started again on the same journal, demo exists: nothing to tell.
            await using var again = await ReplServer.StartAsync(dataDir, backend.Settings());
            await again.Client.CreateTopicAsync("restarted");
            Assert.Equal("restarted", (await backend.NextAsync()).Body.GetProperty("topic").GetString());
        }
        finally
        {
            TempDir.Delete(dataDir);
        }
    }

    [Fact]
    public async Task BackendThatHangs_TakesNoSlotFromTheSubscribeHook()
    {
        await using var events = await EventsBackend.StartAsync();
        events.Answer = _ => null; // never answers
        // One slot for the blocking hooks; the events call hangs far longer than the stream may wait for that slot.
        await using var node = await HookedNode.StartAsync("--Hooks:Events", events.Url, "--Hooks:MaxInFlight", "1",
            "--Hooks:SlotWait", "00:00:00.300", "--Hooks:Timeout", "00:00:10");

        await node.Server.Client.CreateTopicAsync("slots");
        Assert.Equal("topic.created", (await events.NextAsync()).Type); // in flight, and it stays so

        var (status, cause) = await HookResilienceTests.OpenAsync(node.Server, "/topics/slots/sse");
        Assert.True(status == HttpStatusCode.OK, $"the stream was refused {(int)status}: {cause}");
        Assert.Single(node.Backend.Calls);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    public void EventQueue_BelowOne_StopsTheNode(string size)
    {
        var error = Assert.Throws<SettingsException>(() => ReplHost.Build(
            ["--urls", "http://127.0.0.1:0", "--in-memory", "--Hooks:Events", "http://127.0.0.1:1/events", "--Hooks:Secret", EventsBackend.Secret, "--Hooks:EventQueue", size]));
        Assert.Contains("Hooks:EventQueue", error.Message);
    }

    private static async Task<double> DroppedAsync(ReplServer server)
    {
        string text = await server.Client.GetStringAsync("/metrics");
        var sample = DroppedSample().Match(text);
        Assert.True(sample.Success, "repl_hook_events_dropped_total is not in /metrics");
        return double.Parse(sample.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^repl_hook_events_dropped_total(?:\{[^}]*\})? ([0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex DroppedSample();
}
