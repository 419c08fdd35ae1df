using Akka.Actor;
using Microsoft.Extensions.DependencyInjection;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Streams;

/// <summary>The node's streams run in one host actor (Repl.Sse.StreamHost); a host that dies is replaced.</summary>
public sealed class StreamHostSupervisionTests
{
    [Fact]
    public async Task TheStreamsHostKilled_ItsStreamsEnd_AndNewStreamsWork()
    {
        await using var server = await ReplServer.StartAsync();
        await server.Client.CreateTopicAsync("t");
        await using var before = await SseStream.OpenAsync(server.BaseAddress, "/topics/t/sse");

        var system = server.Services.GetRequiredService<ActorSystem>();
        var dead = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var killer = system.ActorOf(Props.Create(() => new HostKiller(dead)));
        await dead.Task.WaitAsync(TimeSpan.FromSeconds(10));
        system.Stop(killer);

        // The killed host's stream ended (its client reconnects with its Last-Event-ID, as after any end).
        Assert.True(await before.EndedAsync(TimeSpan.FromSeconds(10)));
        await using var after = await SseStream.OpenAsync(server.BaseAddress, "/topics/t/sse");
        long id = await server.Client.PublishAsync("t", "after the host died");
        Assert.Equal(id, (await after.MessagesAsync(1))[0].Id);
    }

    /// <summary>
    /// Finds the streams' host actor (the one actor of the streams' materializer, whose names start with <c>sse-</c>,
    /// under its stream supervisor), kills it, and reports its name once it is dead.
    /// </summary>
    private sealed class HostKiller : ReceiveActor
    {
        public HostKiller(TaskCompletionSource<string> dead)
        {
            Context.ActorSelection("/user/*/*").Tell(new Identify(null));
            Receive<ActorIdentity>(identity =>
            {
                if (identity.Subject is not { } actor || !actor.Path.Name.StartsWith("sse-", StringComparison.Ordinal)) return;
                Context.Watch(actor);
                actor.Tell(Kill.Instance);
            });
            Receive<Terminated>(terminated => dead.TrySetResult(terminated.ActorRef.Path.Name));
        }
    }
}
