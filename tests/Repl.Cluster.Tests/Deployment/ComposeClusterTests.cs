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
        using var broker1 = new HttpClient { BaseAddress = stack.Broker(1), Timeout = TimeSpan.FromSeconds(30) };
        using var broker2 = new HttpClient { BaseAddress = stack.Broker(2), Timeout = TimeSpan.FromSeconds(30) };

        // The brokers know the lighthouses: as Akka members at akka.tcp://repl@lighthouseN:4053 with the lighthouse
        // role (before that role existed, a lighthouse container was one more node of the etcd cluster).
        foreach (var broker in new[] { broker1, broker2 })
        {
            var view = await broker.GetStringAsync("/cluster");
            Assert.Contains("lighthouse1", view);
            Assert.Contains("lighthouse2", view);
        }

        var topic = "compose-" + Guid.NewGuid().ToString("N")[..8];
        await balancer.CreateTopicAsync(topic);
        await WaitForTopicAsync(broker1, topic);
        await WaitForTopicAsync(broker2, topic);
        await using var on1 = await SseStream.OpenAsync(stack.Broker(1), $"/topics/{topic}/sse");
        await using var on2 = await SseStream.OpenAsync(stack.Broker(2), $"/topics/{topic}/sse");

        long before = await balancer.PublishAsync(topic, "before the kill");
        await AssertNextMessageAsync(on1, before, "before the kill");
        await AssertNextMessageAsync(on2, before, "before the kill");

        await stack.KillAsync("repl3");

        // nginx passes a publish the dead node never received on to the next one (the connect fails). In an Akka
        // cluster the dead broker may have run the sequencer: until the next one takes over (≤ 15 s), publishes answer
        // 503, so this retries, with one idempotency key so that a retry can never publish twice.
        long after = await PublishUntilAcceptedAsync(balancer, topic, "after the kill", TimeSpan.FromSeconds(60));
        Assert.True(after > before, $"the message after the kill ({after}) follows the one before ({before})");
        await AssertNextMessageAsync(on1, after, "after the kill");
        await AssertNextMessageAsync(on2, after, "after the kill");
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
