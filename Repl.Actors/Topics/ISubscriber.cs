namespace Repl.Actors.Topics;

/// <summary>What a topic tells its subscribers (SSE sinks). Calls come from the log reader and must not block.</summary>
public interface ISubscriber
{
    /// <summary>New messages were applied to a topic the subscriber follows.</summary>
    void Notify();

    /// <summary>A topic the subscriber follows was deleted.</summary>
    void OnTopicDeleted(TopicHub topic);
}
