using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace Repl.Cluster.Tests.Deployment;

/// <summary>
/// The containerised cluster (docker/compose.yml: 2 lighthouses, 3 etcd, 3 brokers, nginx) run for real with podman:
/// what an operator does with it, from outside the containers. Slow (it builds images; the first run on a machine also
/// builds the base image): <c>--filter Category!=Containers</c> leaves it out.
/// </summary>
[Trait("Category", "Containers")]
public sealed class ComposeClusterTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Delivery = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ComposeCluster_PublishThroughNginx_ArrivesOnTwoBrokers_AndGoesOnAfterABrokerIsKilled()
    {
        await using var stack = await ComposeStack.UpAsync(output);
        using var balancer = new HttpClient { BaseAddress = stack.Balancer, Timeout = TimeSpan.FromSeconds(30) };
        var brokers = Enumerable.Range(1, 3).Select(number => new HttpClient { BaseAddress = stack.Broker(number), Timeout = TimeSpan.FromSeconds(30) }).ToArray();
        try
        {
            // The broker to kill: the sequencer's, when the brokers form an Akka cluster (the hardest one to lose: a
            // handover); before that, repl3. Streams are read on the other two.
            var view = JsonDocument.Parse(await brokers[0].GetStringAsync("/cluster")).RootElement;
            int victim = SequencerBroker(view) ?? 3;
            var (first, second) = victim switch { 1 => (2, 3), 2 => (1, 3), _ => (1, 2) };
            output.WriteLine($"streams on repl{first} and repl{second}; repl{victim} is killed");

            // The brokers know the lighthouses: as Akka members at akka.tcp://repl@lighthouseN:4053 with the lighthouse
            // role (before that role existed, a lighthouse container was one more node of the etcd cluster).
            // A broker is ready once it is an Up member; the second lighthouse may join a little later. Polled as an
            // operator would: a broker that had answered /readyz once refused a connection here in one loaded run (a
            // container restarting?), so a refused connection is logged and asked again within the same minute.
            foreach (var broker in brokers)
            {
                var joined = System.Diagnostics.Stopwatch.StartNew();
                string text = "";
                while (!(text.Contains("lighthouse1") && text.Contains("lighthouse2")))
                {
                    Assert.True(joined.Elapsed < TimeSpan.FromSeconds(60), $"{broker.BaseAddress} does not list both lighthouses: {text}");
                    try
                    {
                        text = await broker.GetStringAsync("/cluster");
                    }
                    catch (HttpRequestException error)
                    {
                        text = error.Message;
                        output.WriteLine($"{broker.BaseAddress}/cluster: {error.Message}; asking again");
                    }
                    if (!(text.Contains("lighthouse1") && text.Contains("lighthouse2"))) await Task.Delay(500);
                }
            }

            var topic = "compose-" + Guid.NewGuid().ToString("N")[..8];
            await balancer.CreateTopicAsync(topic);
            await WaitForTopicAsync(brokers[first - 1], topic);
            await WaitForTopicAsync(brokers[second - 1], topic);
            await using var onFirst = await SseStream.OpenAsync(stack.Broker(first), $"/topics/{topic}/sse");
            await using var onSecond = await SseStream.OpenAsync(stack.Broker(second), $"/topics/{topic}/sse");

            long before = await balancer.PublishAsync(topic, "before the kill");
            await AssertNextMessageAsync(onFirst, before, "before the kill");
            await AssertNextMessageAsync(onSecond, before, "before the kill");

            await stack.KillAsync($"repl{victim}");

            // nginx passes a publish the dead node never received on to the next one (the connect fails). When the dead
            // broker ran the sequencer, publishes answer 503 until the next one takes over (≤ 15 s), so this retries,
            // with one idempotency key so that a retry can never publish twice.
            long after = await PublishUntilAcceptedAsync(balancer, topic, "after the kill", TimeSpan.FromSeconds(60));
            Assert.True(after > before, $"the message after the kill ({after}) follows the one before ({before})");
            await AssertNextMessageAsync(onFirst, after, "after the kill");
            await AssertNextMessageAsync(onSecond, after, "after the kill");
        }
        finally
        {
            foreach (var broker in brokers) broker.Dispose();
        }
    }

    /// <summary>The number of the broker that runs the sequencer (<c>akka.sequencer</c>: <c>akka.tcp://repl@replN:4053</c>), if /cluster names one.</summary>
    private static int? SequencerBroker(JsonElement view)
    {
        if (!view.TryGetProperty("akka", out var akka) || !akka.TryGetProperty("sequencer", out var sequencer) || sequencer.ValueKind != JsonValueKind.String) return null;
        var host = new Uri(sequencer.GetString()!).Host;
        return host is "repl1" or "repl2" or "repl3" ? host[^1] - '0' : null;
    }

    private static async Task AssertNextMessageAsync(SseStream stream, long id, string value)
    {
        var (position, message) = Assert.Single(await stream.MessagesAsync(1, Delivery));
        Assert.Equal(id, position);
        Assert.Equal(value, message.GetProperty("value").GetString());
    }

    private static async Task WaitForTopicAsync(HttpClient client, string topic)
    {
        var deadline = DateTime.UtcNow + Delivery;
        while ((await client.GetAsync($"/topics/{topic}")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, $"topic {topic} never appeared on {client.BaseAddress}");
            await Task.Delay(50);
        }
    }

    private async Task<long> PublishUntilAcceptedAsync(HttpClient client, string topic, string value, TimeSpan timeout)
    {
        var key = Guid.NewGuid().ToString("N");
        var deadline = DateTime.UtcNow + timeout;
        string last;
        do
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}") { Content = JsonContent.Create(new { value }) };
            request.Headers.Add("Idempotency-Key", key);
            try
            {
                using var response = await client.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    return long.Parse(JsonDocument.Parse(body).RootElement.GetProperty("data").GetProperty("id").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                }
                // 503 (no sequencer yet, or not ready), 502/504 (nginx found no node): worth a retry; anything else is an answer.
                Assert.True(response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout,
                    $"publish after the kill answered {(int)response.StatusCode}: {body}");
                last = $"{(int)response.StatusCode}: {body}";
            }
            catch (HttpRequestException error)
            {
                last = error.Message;
            }
            catch (TaskCanceledException)
            {
                last = "no answer in 30 s";
            }
            output.WriteLine($"publish after the kill not accepted yet ({last}); retrying");
            await Task.Delay(500);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Fail($"publishing through nginx did not resume within {timeout}; last: {last}");
        return 0;
    }
}
