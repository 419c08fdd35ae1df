using Repl.Actors.Messages;

namespace Repl.Actors.Sharding;

/// <summary>What a topic's sharded entity (<see cref="TopicEntity"/>) takes: the per-topic decisions, off the publish path.</summary>
public static class TopicProtocol
{
    /// <summary>Every command names its topic: the entity id.</summary>
    public interface ICommand : IReplMessage
    {
        string Topic { get; }
    }

    /// <summary>Creates the topic; answered <see cref="Sequencer.SequencerProtocol.TopicChanged"/> (position 0: it exists).</summary>
    public sealed record Create(string Topic) : ICommand;

    /// <summary>Deletes the topic and its history; answered <see cref="Sequencer.SequencerProtocol.TopicChanged"/> (position 0: no such topic).</summary>
    public sealed record Delete(string Topic) : ICommand;

    /// <summary>
    /// Applies retention: the entity decides how far the topic's history goes and commits that as a truncate entry,
    /// so the journal and every node's hub drop it at the same point of the log. Answered
    /// <see cref="Sequencer.SequencerProtocol.TopicChanged"/> (position 0: nothing to drop).
    /// </summary>
    public sealed record Retain(string Topic) : ICommand;

    /// <summary>
    /// Changes the topic's own settings: the <paramref name="Fields"/> named take their value from
    /// <paramref name="Settings"/> (null: back to the node's). Committed through the log as the topic's whole settings;
    /// answered <see cref="Sequencer.SequencerProtocol.TopicChanged"/> (position 0: no such topic).
    /// </summary>
    public sealed record Configure(string Topic, Topics.TopicSettings Settings, Topics.TopicSettingsFields Fields) : ICommand;

    /// <summary>Typed key of the topics' shard region in Akka.Hosting's actor registry.</summary>
    public sealed class Key;
}
