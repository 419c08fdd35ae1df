using Akka.Cluster.Sharding;

namespace Repl.Actors.Sharding;

/// <summary>Routes a topic command to the topic's entity: the entity id is the topic's name.</summary>
/// <remarks><see cref="HashCodeMessageExtractor"/> also routes sharding's own <c>StartEntity</c>.</remarks>
public sealed class TopicMessageExtractor(int shards) : HashCodeMessageExtractor(shards)
{
    public override string EntityId(object message) => message is TopicProtocol.ICommand command ? command.Topic : null!;
}
