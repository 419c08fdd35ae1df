using Repl.Actors.Messages;

namespace Repl.Actors.Topics;

/// <summary>
/// One topic on this node: its recent framed history, its local subscribers and counters.
/// </summary>
/// <remarks>
/// <para>The design card gives each topic an actor with its own mailbox. Here the topic's mailbox is the log:
/// its state changes only on the <see cref="Reader.LogReader"/>, in log order, and subscribers read its
/// ring without locks. A per-topic mailbox would add a hop per message and, worse, let topics advance
/// independently, which breaks the single resume cursor of a stream over several topics.</para>
/// <para>Subscribing and unsubscribing swap a copy-on-write array under a lock; notifying reads the array.</para>
/// <para>An idle topic (no subscriber, no publish for a while) is passivated: its ring is dropped and readers
/// are served from the journal until new messages arrive.</para>
/// </remarks>
public sealed class TopicHub
{
    private readonly Lock _subscribersGate = new();
    private readonly int _windowSize;
    private ISubscriber[] _subscribers = [];
    private FrameRing? _ring;
    private long _trimmedThrough;
    private long _published;
    private long _lastActivityTicks;
    private long _newestAtMost;
    private TopicSettings _settings = TopicSettings.None;
    private PresenceFeed? _presence;

    /// <param name="newestAtMost">No message of the topic is after this position (a bound, for readers of a topic without a ring).</param>
    internal TopicHub(string name, long created, long trimmedThrough, int windowSize, long newestAtMost)
    {
        Name = name;
        Created = created;
        _trimmedThrough = trimmedThrough;
        _newestAtMost = newestAtMost;
        _windowSize = windowSize;
        _lastActivityTicks = Environment.TickCount64;
    }

    public string Name { get; }

    /// <summary>Position of the entry that created the topic.</summary>
    public long Created { get; }

    /// <summary>True once the topic's deletion was applied.</summary>
    public bool IsDeleted { get; private set; }

    /// <summary>Highest position removed by retention; a reader behind it has a gap.</summary>
    public long TrimmedThrough
    {
        get => Volatile.Read(ref _trimmedThrough);
        internal set => Volatile.Write(ref _trimmedThrough, value);
    }

    /// <summary>
    /// The topic's own settings as of this node's applied position (<see cref="TopicSettings.None"/>: the node's for
    /// everything). Set by the log reader when a settings entry is applied, and from the journal at start.
    /// </summary>
    public TopicSettings Settings
    {
        get => Volatile.Read(ref _settings);
        internal set => Volatile.Write(ref _settings, value);
    }

    /// <summary>
    /// The topic's presence events on this node (join, leave, counts), made by the first <c>?presence=1</c> stream: a
    /// topic no such stream reads has none, and its streams and publishes never look at it.
    /// </summary>
    public PresenceFeed Presence
    {
        get
        {
            if (Volatile.Read(ref _presence) is { } feed) return feed;
            Interlocked.CompareExchange(ref _presence, new PresenceFeed(), null);
            return _presence;
        }
    }

    /// <summary>The feed if a <c>?presence=1</c> stream ever made it, else null.</summary>
    public PresenceFeed? PresenceIfAny => Volatile.Read(ref _presence);

    /// <summary>Messages applied since this node started.</summary>
    public long Published => Volatile.Read(ref _published);

    /// <summary>Local subscribers now.</summary>
    public int SubscriberCount => Volatile.Read(ref _subscribers).Length;

    /// <summary>True while the topic keeps its recent history in memory.</summary>
    public bool IsActive => Volatile.Read(ref _ring) is not null;

    internal ISubscriber[] Subscribers => Volatile.Read(ref _subscribers);

    /// <summary>Adds a subscriber; returns false if the topic is already deleted.</summary>
    public bool Subscribe(ISubscriber subscriber)
    {
        lock (_subscribersGate)
        {
            if (IsDeleted) return false;
            _subscribers = [.. _subscribers, subscriber];
            Volatile.Write(ref _lastActivityTicks, Environment.TickCount64);
            return true;
        }
    }

    public void Unsubscribe(ISubscriber subscriber)
    {
        lock (_subscribersGate)
        {
            int index = Array.IndexOf(_subscribers, subscriber);
            if (index < 0) return;
            _subscribers = [.. _subscribers.AsSpan(0, index), .. _subscribers.AsSpan(index + 1)];
            Volatile.Write(ref _lastActivityTicks, Environment.TickCount64);
        }
    }

    /// <summary>
    /// Adds to <paramref name="into"/> the frames after <paramref name="after"/> up to <paramref name="upTo"/>.
    /// False when memory does not hold them all and the journal must answer.
    /// </summary>
    /// <remarks>
    /// A topic without a ring (idle, or not published to since start) answers "nothing new" without the journal
    /// when the reader is already past its newest message: sinks of quiet topics then cost no queries.
    /// </remarks>
    public bool TryRead(long after, long upTo, List<Frame> into, int maxBytes) =>
        Volatile.Read(ref _ring) is { } ring ? ring.TryRead(after, upTo, into, maxBytes) : after >= Volatile.Read(ref _newestAtMost);

    /// <summary>Log reader only: adds a committed message. <paramref name="appliedBefore"/> is the log position before this batch.</summary>
    internal void Append(Frame frame, long appliedBefore)
    {
        var ring = _ring;
        if (ring is null)
        {
            ring = new FrameRing(_windowSize, appliedBefore);
            Volatile.Write(ref _ring, ring);
        }
        ring.Append(frame);
        Volatile.Write(ref _newestAtMost, frame.Position);
        _published++;
        _lastActivityTicks = Environment.TickCount64;
    }

    /// <summary>Log reader only: tells subscribers that new frames are there.</summary>
    internal void NotifySubscribers()
    {
        foreach (var subscriber in Subscribers) subscriber.Notify();
    }

    /// <summary>Log reader only: drops the in-memory history if idle for longer than <paramref name="idle"/>.</summary>
    internal bool TryPassivate(TimeSpan idle)
    {
        if (_ring is null || SubscriberCount > 0) return false;
        if (Environment.TickCount64 - Volatile.Read(ref _lastActivityTicks) < idle.TotalMilliseconds) return false;
        Volatile.Write(ref _ring, null);
        return true;
    }

    /// <summary>Log reader only: history up to <paramref name="through"/> is gone; readers behind it get a gap.</summary>
    /// <param name="lost">True when this node never had that history (cluster resync), false for retention, which
    /// removes only what every node had: the ring may still hold some of it, and serving it from memory hides nothing.</param>
    internal void Truncate(long through, bool lost)
    {
        TrimmedThrough = Math.Max(TrimmedThrough, through);
        if (!lost) return;
        // The ring would claim to cover the hole, and so would "nothing newer than _newestAtMost": readers behind
        // the hole go to the journal, which reports the gap.
        Volatile.Write(ref _ring, null);
        Volatile.Write(ref _newestAtMost, Math.Max(Volatile.Read(ref _newestAtMost), through));
    }

    /// <summary>Log reader only: the topic's deletion was applied.</summary>
    internal void MarkDeleted()
    {
        ISubscriber[] subscribers;
        lock (_subscribersGate)
        {
            IsDeleted = true;
            subscribers = _subscribers;
            _subscribers = [];
        }
        Volatile.Write(ref _ring, null);
        foreach (var subscriber in subscribers) subscriber.OnTopicDeleted(this);
    }
}
