using Akka.Actor;
using Akka.Cluster;
using Repl.Actors.ServerApi;
using Repl.Host.Cluster;
using Repl.Sse;

namespace Repl.Host.Node;

/// <summary>
/// Each broker's hand on its own streams for the server API (<c>POST /disconnect</c>,
/// <c>DELETE /topics/{name}/clients/{client}</c>), at <c>/user/server-api</c> on every broker; and, on the node that took
/// the call, the one that asks all of them.
/// </summary>
/// <remarks>
/// A stream lives on the node its client connected to, and the call may come to any node, so the node that takes it asks
/// every Up broker (itself included) and sums their answers. A broker that does not answer within
/// <see cref="AnswerTimeout"/> is counted out (<see cref="StreamsReached.Nodes"/> below <see cref="StreamsReached.Asked"/>).
/// A message per broker per call: these are rare admin calls, and a broker that joins later needs nothing of them but a
/// disconnect's refusal, which it does not get (README, "Server API").
/// </remarks>
internal sealed class ServerApiActor : ReceiveActor
{
    /// <summary>How long the node that took the call waits for each broker: a disconnect is to end every stream within 2 s.</summary>
    internal static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(1.5);

    public ServerApiActor(Func<SseStreams> streams, RefusedUsers refused)
    {
        Receive<ServerApiProtocol.Disconnect>(disconnect =>
        {
            refused.Refuse(disconnect.User, disconnect.UntilMs, disconnect.Reason);
            Sender.Tell(new ServerApiProtocol.Done(streams().Disconnect(disconnect.User, disconnect.Reason)));
        });
        Receive<ServerApiProtocol.Unsubscribe>(unsubscribe => Sender.Tell(new ServerApiProtocol.Done(streams().Unsubscribe(unsubscribe.Client, unsubscribe.Topic))));
        Receive<Everywhere>(everywhere => AskBrokersAsync(everywhere.Message).PipeTo(Sender));
    }

    public static Props Props(Func<SseStreams> streams, RefusedUsers refused) => Akka.Actor.Props.Create(() => new ServerApiActor(streams, refused));

    private Task<StreamsReached> AskBrokersAsync(object message)
    {
        var brokers = Akka.Cluster.Cluster.Get(Context.System).State.Members
            .Where(member => member.Status == MemberStatus.Up && member.HasRole(AkkaClusterSettings.BrokerRole))
            .Select(member => Context.ActorSelection(new RootActorPath(member.Address) / "user" / ServerApiProtocol.ActorName))
            .ToList();
        return SumAsync(brokers, message);
    }

    private static async Task<StreamsReached> SumAsync(List<ActorSelection> brokers, object message)
    {
        var answers = await Task.WhenAll(brokers.Select(async broker =>
        {
            try
            {
                return await broker.Ask<ServerApiProtocol.Done>(message, AnswerTimeout);
            }
            catch (AskTimeoutException)
            {
                return null;
            }
        }));
        return new StreamsReached(answers.Sum(answer => answer?.Streams ?? 0), answers.Count(answer => answer is not null), brokers.Count);
    }

    /// <summary>From this node's routes: send <see cref="Message"/> to every Up broker's actor and sum the answers. Never leaves the node.</summary>
    internal sealed record Everywhere(object Message) : INoSerializationVerificationNeeded;
}
