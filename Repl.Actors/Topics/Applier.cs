using Microsoft.Extensions.Logging;
using Repl.Actors.Actors;
using Repl.Actors.Log;
using Repl.Actors.Messages;

namespace Repl.Actors.Topics;

/// <summary>
/// The node's state machine: reads committed entries in log order and applies them to the topics.
/// </summary>
/// <remarks>
/// Deterministic: every node applying the same log ends in the same state. A publish to a topic that does
/// not exist at its point in the log is skipped (and its publisher answered 404, see <see cref="TopicRegistry.WasSkipped"/>),
/// and so is a create of a topic that exists, on every node alike.
/// A message is framed for SSE once, here; subscribers of touched topics are notified once per batch, after
/// the watermark (<see cref="TopicRegistry.AppliedPosition"/>) covers the whole batch.
/// </remarks>
public sealed class Applier : Actor<Applier.Command>
{
    private readonly TopicRegistry _registry;
    private readonly TopicsOptions _options;
    private readonly Journal.Journal? _replica;
    private readonly ILogger _logger;
    private readonly HashSet<TopicActor> _touched = [];
    private readonly List<LogEntry> _accepted = [];
    private readonly List<long> _skippedPublishes = [];

    /// <param name="replica">Cluster mode: the local journal to write applied entries to. Standalone: null, the log already wrote them.</param>
    public Applier(TopicRegistry registry, TopicsOptions options, Journal.Journal journal, Journal.Journal? replica, ILogger logger)
    {
        _registry = registry;
        _options = options;
        _replica = replica;
        _logger = logger;
        foreach (var topic in journal.LoadTopics())
        {
            registry.Add(new TopicActor(topic.Name, topic.Created, topic.TrimmedThrough, options.MemoryWindow, journal.LastPosition));
        }
        registry.Advance(journal.LastPosition, []);
    }

    /// <summary>Feeds the applier from the log until cancelled.</summary>
    public async Task PumpAsync(ILog log, CancellationToken cancellationToken)
    {
        await foreach (var batch in log.ReadAsync(_registry.AppliedPosition, cancellationToken).ConfigureAwait(false))
        {
            await TellAsync(new Command.Apply(batch), cancellationToken).ConfigureAwait(false);
        }
    }

    protected override ValueTask HandleAsync(Command command)
    {
        switch (command)
        {
            case Command.Apply apply:
                Apply(apply.Entries);
                break;
            case Command.Sweep:
                foreach (var topic in _registry.All)
                {
                    if (topic.TryPassivate(_options.PassivateAfter)) _logger.LogDebug("Topic {Topic} passivated", topic.Name);
                }
                break;
        }
        return ValueTask.CompletedTask;
    }

    protected override void OnFailure(Command command, Exception error) =>
        _logger.LogError(error, "Applying {Command} failed", command);

    private void Apply(IReadOnlyList<LogEntry> entries)
    {
        long before = _registry.AppliedPosition;
        _accepted.Clear();
        _skippedPublishes.Clear();
        foreach (var entry in entries)
        {
            if (entry.Position <= before) continue; // already applied (a cluster log may resend a window)
            switch (entry.Kind)
            {
                case LogEntryKind.Publish when _registry.TryGet(entry.Topic, out var topic):
                    topic.Append(new Frame(entry.Position, entry.Topic, MessageJson.Frame(entry.Position, entry.Message)), before);
                    _touched.Add(topic);
                    _accepted.Add(entry);
                    break;
                case LogEntryKind.Publish:
                    _skippedPublishes.Add(entry.Position);
                    break;
                case LogEntryKind.CreateTopic when !_registry.TryGet(entry.Topic, out _):
                    _registry.Add(new TopicActor(entry.Topic, entry.Position, 0, _options.MemoryWindow, entry.Position));
                    _accepted.Add(entry);
                    break;
                case LogEntryKind.DeleteTopic when _registry.TryGet(entry.Topic, out var deleted):
                    _registry.Remove(entry.Topic);
                    deleted.MarkDeleted();
                    _touched.Remove(deleted);
                    _accepted.Add(entry);
                    break;
                case LogEntryKind.Truncate when _registry.TryGet(entry.Topic, out var truncated):
                    truncated.Truncate(entry.Position);
                    _accepted.Add(entry);
                    break;
            }
        }
        if (entries.Count == 0) return;
        _replica?.Write(_accepted);
        _registry.Advance(Math.Max(before, entries[^1].Position), _skippedPublishes);
        foreach (var topic in _touched) topic.NotifySubscribers();
        _touched.Clear();
    }

    /// <summary>What the applier's mailbox takes.</summary>
    public abstract record Command
    {
        /// <summary>Committed entries, in order.</summary>
        public sealed record Apply(IReadOnlyList<LogEntry> Entries) : Command;

        /// <summary>Passivate idle topics.</summary>
        public sealed record Sweep : Command;
    }
}
