using System.Collections.Concurrent;
using Repl.Actors.Log;
using Repl.Actors.Storage;

namespace Repl.Actors.Topics;

/// <summary>
/// The topics this node has applied, and how far along the log it has applied (<see cref="Applied"/>).
/// </summary>
/// <remarks>Written only by the node's <see cref="Reader.LogReader"/>; read by everyone.</remarks>
public sealed class TopicRegistry
{
    /// <summary>The registry as the journal left it: its topics with their settings, applied up to its last position.</summary>
    public static TopicRegistry Load(Journal journal, TopicsOptions options)
    {
        var registry = new TopicRegistry { Epoch = journal.Epoch };
        foreach (var topic in journal.LoadTopics())
        {
            registry.Add(new TopicHub(topic.Name, topic.Created, topic.TrimmedThrough, options.MemoryWindow, journal.LastPosition)
            {
                Settings = TopicSettings.FromJson(topic.SettingsJson),
            });
        }
        registry.Applied.Advance(journal.LastPosition, []);
        return registry;
    }

    private readonly ConcurrentDictionary<string, TopicHub> _topics = new(StringComparer.Ordinal);

    /// <summary>
    /// The identity of the log this node applies, in every stream id. Standalone: the journal's. Cluster mode: etcd's,
    /// set by the node before its reader applies anything (<see cref="UseEpoch"/>).
    /// </summary>
    public Messages.LogEpoch Epoch { get; private set; } = Messages.LogEpoch.Of(0);

    /// <summary>Cluster mode: the log's epoch as etcd holds it; called before the first entry is applied.</summary>
    public void UseEpoch(Messages.LogEpoch epoch) => Epoch = epoch;

    /// <summary>How far this node has applied the log: the watermark, and what waits on it.</summary>
    public AppliedLog Applied { get; } = new();

    /// <summary>Position of the last entry applied on this node (<see cref="AppliedLog.Position"/>).</summary>
    public long AppliedPosition => Applied.Position;

    /// <summary>Completes once the entry at <paramref name="position"/> has been applied here (<see cref="AppliedLog.WaitAsync"/>).</summary>
    public Task WaitAppliedAsync(long position) => Applied.WaitAsync(position);

    /// <summary>Topics by name, internal ones included.</summary>
    public ICollection<TopicHub> All => _topics.Values;

    /// <summary>The users' topics: <see cref="All"/> without the node's internal ones (<see cref="TopicName.IsInternal"/>, such as the readiness canary).</summary>
    public IEnumerable<TopicHub> Public => _topics.Values.Where(topic => !TopicName.IsInternal(topic.Name));

    public bool TryGet(string name, out TopicHub topic) => _topics.TryGetValue(name, out topic!);

    internal void Add(TopicHub topic) => _topics[topic.Name] = topic;

    internal void Remove(string name) => _topics.TryRemove(name, out _);
}
