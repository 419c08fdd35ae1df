using Akka.Streams;
using Akka.Streams.Stage;
using Repl.Actors.Messages;
using Repl.Actors.Topics;

namespace Repl.Sse;

/// <summary>
/// The source of one SSE connection's graph: a cursor over the node's applied log for the connection's topics, whose
/// element is a whole <see cref="WriteRound"/>.
/// </summary>
/// <remarks>
/// <para><b>Order and resume.</b> The cursor is a log position. On each pull the source takes the node's applied
/// watermark W and emits every frame of its topics in (cursor, W], in position order (up to
/// <see cref="SseOptions.MaxWriteBytes"/>), then moves the cursor. Frames at or below W are all in place, so a stream
/// over several topics is still in log order and one <c>Last-Event-ID</c> resumes it exactly.</para>
/// <para><b>Waking.</b> The topics call <see cref="ISubscriber.Notify"/> from the log reader, once per applied
/// batch. That call only flips an interlocked flag and, if it was clear, hands the stage's one async callback to the
/// <see cref="StreamHost"/>, which invokes it from inside its actor (no message per stream): the
/// flag stays set from a push until the next pull looks at the watermark (and while a coalescing window or a journal
/// read is pending), so a connection is woken at most once per batch or window however many batches arrive
/// meanwhile, and the log reader never blocks on it.</para>
/// <para><b>Coalescing.</b> A stream that pushed less than <see cref="SseOptions.CoalesceWindow"/> ago waits for the
/// window's next tick (<see cref="CoalescingWindow"/>: Akka's scheduler cannot time 5 ms), then takes everything pending in one round: on loopback most of a round's cost is the
/// kernel's send, so fewer, fuller writes are the lever under load (bench/README.md: 480k → 1,167k deliveries/s in S2
/// when coalescing came in). A quiet stream emits at once, and so does one whose last round was cut short by
/// <see cref="SseOptions.MaxWriteBytes"/>: it is behind, and its next round is full already.</para>
/// <para><b>Slow clients.</b> The source holds no queue: what the sink has not taken stays in the rings or the
/// journal. A stream that fell behind its topics' rings reads the journal — blocking SQLite, so on the thread pool,
/// with the result handed back through an async callback, never on the streams' one thread (<see cref="JournalPage"/>)
/// — and says <c>gap</c> for what retention removed.</para>
/// <para><b>State.</b> Besides its cursor, a stream is in one <see cref="Phase"/> (is <c>connected</c> still to be said),
/// its next round comes from one <see cref="Progress"/> (caught up, behind, or a journal read in flight), and it stands in
/// one <see cref="Coalescing"/> state (none, waiting for the window's end, or past it).</para>
/// <para><b>Presence.</b> A stream opened with <c>?presence=1</c> also reads each topic's <see cref="PresenceFeed"/>
/// (<see cref="PresenceCursor"/>): subscribed to it, it is woken as by messages, and each round it takes the events
/// after the version it told — not its own client's, no <c>id:</c> line, not ordered with messages. It starts with the
/// topic's counts once the topic's entity has counted it (so the counts include it), and gets the counts again instead
/// of events it fell behind. A stream without it holds null and pays one null check a round.</para>
/// <para><b>Pings and expiry.</b> No timer of its own: the host's sweep (<see cref="StreamHost.Handle.Sweep"/>) wakes the
/// stream when <see cref="SseOptions.PingInterval"/> passed since its last round, or its token expired.</para>
/// <para><b>End.</b> Completes after <c>event: deleted</c> once every topic is deleted, after <c>event: expired</c> at
/// <see cref="SseConnection.ExpiresAt"/> (the first sweep after it), after <c>event: unavailable</c> when <see cref="SseConnection.Unavailable"/>
/// fires, and silently when the stop token fires (request aborted, host stopping) or the sink cancels. It unsubscribes
/// from every topic in <c>PostStop</c>, which runs on every path, failure included.</para>
/// </remarks>
internal sealed class CursorSource : GraphStage<SourceShape<WriteRound>>
{
    private readonly SseConnection _connection;
    private readonly SseOptions _options;
    private readonly SseCounters _counters;
    private readonly CancellationToken _stop;
    private readonly CoalescingWindow _window;
    private readonly StreamHost.Handle _host;

    /// <param name="window">Where a busy stream waits for the end of its coalescing window.</param>
    /// <param name="host">The host the graph runs in (<see cref="StreamHost"/>): wakes go through it.</param>
    /// <param name="stop">Ends the stream without a closing event (the request was aborted, the host is stopping).</param>
    public CursorSource(SseConnection connection, SseOptions options, SseCounters counters, CoalescingWindow window, StreamHost.Handle host, CancellationToken stop)
    {
        _window = window;
        _host = host;
        _connection = connection;
        _options = options;
        _counters = counters;
        _stop = stop;
        Shape = new SourceShape<WriteRound>(Out);
    }

    public Outlet<WriteRound> Out { get; } = new("sse.cursor.out");

    public override SourceShape<WriteRound> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("sse-cursor");

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    /// <summary>Where the stream is in its life.</summary>
    private enum Phase
    {
        /// <summary>Not started: a stage that never ran <c>PreStart</c> was never counted open.</summary>
        Created,

        /// <summary>Subscribed and counted open; its first round starts with <c>connected</c> (and <c>reset</c>).</summary>
        Opened,

        /// <summary><c>connected</c> was pushed.</summary>
        Connected,
    }

    /// <summary>Where the next round's messages come from.</summary>
    private enum Progress
    {
        /// <summary>The last round reached the watermark it read up to: the rings cover what follows, and a round due soon after it may wait for the coalescing window.</summary>
        CaughtUp,

        /// <summary>The last round stopped at its byte budget, short of its watermark: the next one is full already and goes at once.</summary>
        Behind,

        /// <summary>A journal page is being read on the pool (<see cref="JournalPage"/>): nothing is pushed until it is back.</summary>
        Reading,
    }

    /// <summary>The stream's place in the coalescing window (<see cref="CoalescingWindow"/>).</summary>
    private enum Coalescing
    {
        /// <summary>Not waiting, and no window has ended since the last push (or read).</summary>
        None,

        /// <summary>Registered with the window: it wakes the stream at its end. Only one registration at a time.</summary>
        Waiting,

        /// <summary>The window ended since the last push (or read): the next round goes at once.</summary>
        Ended,
    }

    /// <summary>Where a <c>?presence=1</c> stream is in one topic's presence feed.</summary>
    private sealed class PresenceCursor(TopicHub topic, long told)
    {
        public readonly TopicHub Topic = topic;
        public readonly PresenceFeed Feed = topic.Presence;

        /// <summary>The feed's version up to which the stream has told (or passed over) everything.</summary>
        public long Told = told;

        /// <summary>The counts were told: from here on, events. Before, the stream waits to be counted.</summary>
        public bool Counted;
    }

    // Its own out-handler (not SetHandler's lambdas): a handler object and its delegates are ~130 B a stream.
    private sealed class Logic : OutGraphStageLogic, ISubscriber, ISweptStream
    {
        private static readonly byte[] PingEvent = SseEvents.Ping.ToArray();

        private readonly CursorSource _stage;
        private readonly SseConnection _connection;
        private readonly SseOptions _options;
        private readonly WriteRound _round = new();
        private readonly long _windowMs;
        private readonly long _pingMs;
        // The topics still followed: the connection's own list until one is deleted, a copy from then on.
        private IReadOnlyList<TopicHub> _topics;
        // Every event from outside the stage comes through this one callback (StreamSignal, TopicHub, JournalPage).
        private Action<object> _callback = static _ => { };
        private CancellationTokenRegistration _stopRegistration;
        private CancellationTokenRegistration _unavailableRegistration;
        // Only the journal read touches it, and one read is in flight at most.
        private Dictionary<string, long>? _gapsReported;
        // 1: a Notify need not wake the stage (it will look at the watermark anyway). An int for Interlocked: see the class remarks.
        private int _scheduled = 1;
        private long _cursor;
        // Written on the stage's thread, read by the host's sweep.
        private long _lastPushMs;
        private Phase _phase;
        private Progress _progress;
        private Coalescing _coalescing;
        // What the next round owes besides messages: topics deleted, the closing event, a ping.
        private List<TopicHub>? _deleted;
        // Events the server API asked for (`unsubscribed`), said in the next round.
        private List<byte[]>? _told;
        private bool _unsubscribedWhileReading;
        private byte[]? _closing;
        private bool _pingDue;
        // ?presence=1 only: one cursor per topic still followed.
        private List<PresenceCursor>? _presence;

        public Logic(CursorSource stage) : base(stage.Shape)
        {
            _stage = stage;
            _connection = stage._connection;
            _options = stage._options;
            _topics = _connection.Topics;
            _windowMs = (long)_options.CoalesceWindow.TotalMilliseconds;
            _pingMs = (long)_options.PingInterval.TotalMilliseconds;
            SetHandler(stage.Out, this);
        }

        public override void OnPull() => Emit();

        public Action<object> Callback => _callback;

        public SseConnection Connection => _connection;

        public override void PreStart()
        {
            _callback = GetAsyncCallback<object>(OnSignal);
            _stage._counters.Opened();
            _phase = Phase.Opened;

            foreach (var topic in _connection.Topics)
            {
                if (!topic.Subscribe(this)) (_deleted ??= []).Add(topic);
            }
            if (_connection.PresenceFrom is { } from)
            {
                _presence = new List<PresenceCursor>(from.Count);
                for (int t = 0; t < _connection.Topics.Count; t++)
                {
                    var cursor = new PresenceCursor(_connection.Topics[t], from[t]);
                    cursor.Feed.Subscribe(this);
                    _presence.Add(cursor);
                }
            }
            // The start was fixed before the head (SseConnection.Cursor); subscribed now, the first pull reads everything
            // applied above it, and anything applied after that wakes us.
            _cursor = _connection.Cursor;
            Volatile.Write(ref _lastPushMs, Environment.TickCount64);

            // Pings and the token's expiry come from the host's sweep, not from a timer of our own.
            _stage._host.Register(this);
            if (_connection.ExpiresAt is not null && IsExpired()) Close(Expired);
            if (_stage._stop.IsCancellationRequested)
            {
                CompleteStage();
                return;
            }
            if (_stage._stop.CanBeCanceled) _stopRegistration = _stage._stop.Register(static state => ((Action<object>)state!)(StreamSignal.Stop), _callback);
            if (_connection.Unavailable.CanBeCanceled)
            {
                _unavailableRegistration = _connection.Unavailable.Register(static state => ((Action<object>)state!)(StreamSignal.Unavailable), _callback);
            }
        }

        public override void PostStop()
        {
            // No wake-up may be sent to a stage that has stopped.
            Volatile.Write(ref _scheduled, 1);
            _stage._host.Unregister(this);
            foreach (var topic in _connection.Topics) topic.Unsubscribe(this);
            if (_presence is not null)
            {
                foreach (var cursor in _presence) cursor.Feed.Unsubscribe(this);
            }
            _stopRegistration.Dispose();
            _unavailableRegistration.Dispose();
            if (_phase != Phase.Created) _stage._counters.Closed();
            base.PostStop();
        }

        void ISubscriber.Notify()
        {
            if (Interlocked.Exchange(ref _scheduled, 1) == 0) _stage._host.Wake(_callback, StreamSignal.Wake);
        }

        void ISubscriber.OnTopicDeleted(TopicHub topic) => _callback(topic);

        /// <summary>The host's thread: reads the last push's time (written with a barrier), the options and the connection, which do not change.</summary>
        bool ISweptStream.IsDue(long nowMs) =>
            nowMs - Volatile.Read(ref _lastPushMs) >= _pingMs || (_connection.ExpiresAt is not null && IsExpired());

        private bool IsExpired() => _connection.Time.GetUtcNow() >= _connection.ExpiresAt!.Value;

        private byte[] Expired => SseEvents.Closing("expired", _connection.ExpiredReason);

        /// <summary>The one async callback: whatever happened outside the stage, on the stage's thread.</summary>
        private void OnSignal(object what)
        {
            switch (what)
            {
                case JournalPage page:
                    OnJournalRead(page);
                    break;
                case TopicHub topic:
                    (_deleted ??= []).Add(topic);
                    Emit();
                    break;
                case StreamSignal signal when signal == StreamSignal.Wake:
                    _stage._counters.Woken();
                    Emit();
                    break;
                case StreamSignal signal when signal == StreamSignal.WindowEnd:
                    _coalescing = Coalescing.Ended;
                    Emit();
                    break;
                case StreamSignal signal when signal == StreamSignal.Sweep:
                    OnSweep();
                    break;
                case StreamSignal signal when signal == StreamSignal.Stop:
                    CompleteStage();
                    break;
                case StreamSignal signal when signal == StreamSignal.Unavailable:
                    Close(SseEvents.Closing("unavailable", _connection.UnavailableReason));
                    break;
                case StreamDisconnect disconnect:
                    Close(SseEvents.Closing("disconnect", disconnect.Reason));
                    break;
                case StreamUnsubscribe unsubscribe:
                    Unsubscribe(unsubscribe.Topic);
                    break;
            }
        }

        /// <summary>Stops following one topic: no more of its messages from the next round on; the stream closes when it was the last.</summary>
        private void Unsubscribe(string name)
        {
            TopicHub? topic = null;
            for (int t = 0; t < _topics.Count; t++)
            {
                if (_topics[t].Name == name) topic = _topics[t];
            }
            if (topic is null) return;
            _topics = [.. _topics.Where(followed => followed != topic)];
            topic.Unsubscribe(this);
            if (_presence?.Find(cursor => cursor.Topic == topic) is { } watched)
            {
                watched.Feed.Unsubscribe(this);
                _presence!.Remove(watched);
            }
            _unsubscribedWhileReading |= _progress == Progress.Reading;
            if (_topics.Count == 0)
            {
                Close(SseEvents.Unsubscribed(name));
                return;
            }
            (_told ??= []).Add(SseEvents.Unsubscribed(name));
            Emit();
        }

        private void OnSweep()
        {
            if (_connection.ExpiresAt is not null && IsExpired())
            {
                Close(Expired);
                return;
            }
            if (Environment.TickCount64 - _lastPushMs < _pingMs) return;
            // A stream whose sink is still flushing is not idle: no ping to add behind it.
            _pingDue = IsAvailable(_stage.Out);
            Emit();
        }

        private void Close(byte[] closingEvent)
        {
            _closing ??= closingEvent;
            Emit();
        }

        /// <summary>Pushes the next round if the sink has asked for one and there is something to send.</summary>
        private void Emit()
        {
            if (_progress == Progress.Reading || !IsAvailable(_stage.Out)) return;
            var round = _round;
            round.Clear();
            if (_phase != Phase.Connected)
            {
                _phase = Phase.Connected;
                round.AddHead(SseEvents.Connected(_options.Retry, _topics.Select(topic => topic.Name), _connection.Node, _cursor, _connection.Registry.Epoch.Text, _connection.Client));
                if (_connection.Reset is { } reset) round.AddHead(SseEvents.Reset(reset.Requested, reset.Reason, _connection.Registry.Epoch.Text, _cursor));
            }
            if (_deleted is { Count: > 0 })
            {
                foreach (var topic in _deleted)
                {
                    if (!_topics.Contains(topic)) continue;
                    _topics = [.. _topics.Where(followed => followed != topic)];
                    round.AddTail(SseEvents.Deleted(topic.Name));
                }
                _deleted.Clear();
                if (_topics.Count == 0)
                {
                    Finish(round);
                    return;
                }
            }
            if (_told is { Count: > 0 })
            {
                foreach (var told in _told) round.AddTail(told);
                _told.Clear();
            }
            if (_closing is { } closing)
            {
                round.AddTail(closing);
                Finish(round);
                return;
            }

            // From here until the next push (or hold), a Notify must wake us: clear the flag, then read the watermark.
            Volatile.Write(ref _scheduled, 0);
            long watermark = _connection.Registry.AppliedPosition;
            if (watermark > _cursor)
            {
                if (WaitsForWindow(round))
                {
                    Volatile.Write(ref _scheduled, 1);
                    if (_coalescing == Coalescing.None)
                    {
                        _coalescing = Coalescing.Waiting;
                        _stage._window.Hold(_callback);
                    }
                    return;
                }
                PastWindow();
                if (!FromMemory(watermark, round.Frames))
                {
                    Volatile.Write(ref _scheduled, 1);
                    ReadJournal(watermark);
                    return;
                }
            }
            if (_presence is not null) ReadPresence(round);
            if (_pingDue)
            {
                _pingDue = false;
                if (round.IsEmpty) round.AddTail(PingEvent);
            }
            if (!round.IsEmpty) Send(round);
        }

        /// <summary>
        /// Adds each topic's presence events after the version the stream told (read after the wake flag was cleared, as
        /// the watermark is): before the stream is counted, nothing but the counts once it is; after, the events of other
        /// clients, or the counts if the stream fell out of the ring.
        /// </summary>
        private void ReadPresence(WriteRound round)
        {
            foreach (var cursor in _presence!)
            {
                var feed = cursor.Feed;
                long version = feed.Version;
                if (version == cursor.Told || cursor.Topic.IsDeleted) continue;
                bool fromCounts;
                if (!cursor.Counted)
                {
                    fromCounts = feed.TryFindCounted(cursor.Told, version, _connection.Client);
                    cursor.Told = version;
                }
                else
                {
                    fromCounts = !feed.TryRead(cursor.Told, version, _connection.Client, round.Tail);
                    cursor.Told = version;
                }
                // The counts are at least as recent as the version read: the events up to theirs are in them.
                if (!fromCounts || feed.Snapshot is not { } counts) continue;
                round.AddTail(counts.Bytes);
                cursor.Told = Math.Max(version, counts.Version);
                cursor.Counted = true;
            }
        }

        /// <summary>
        /// Whether a round of messages only waits for the end of the coalescing window: the stream is caught up, pushed
        /// less than a window ago, no window ended since, and the round owes nothing else (no head, closing or ping).
        /// </summary>
        private bool WaitsForWindow(WriteRound round) =>
            _progress == Progress.CaughtUp && _coalescing != Coalescing.Ended && round.IsEmpty && !_pingDue
            && _windowMs > 0 && Environment.TickCount64 - _lastPushMs < _windowMs;

        /// <summary>A window that ended counted for one round; a registration still waiting stays (its end wakes the stream once more).</summary>
        private void PastWindow()
        {
            if (_coalescing == Coalescing.Ended) _coalescing = Coalescing.None;
        }

        private void Send(WriteRound round)
        {
            Volatile.Write(ref _scheduled, 1);
            Volatile.Write(ref _lastPushMs, Environment.TickCount64);
            PastWindow();
            Push(_stage.Out, round);
        }

        private void Finish(WriteRound round)
        {
            Send(round);
            CompleteStage();
        }

        /// <summary>Reads the topics' rings into <paramref name="frames"/>; false, with nothing read, when one does not cover the cursor.</summary>
        private bool FromMemory(long watermark, List<Frame> frames)
        {
            long reached = watermark;
            int maxBytes = _options.MaxWriteBytes;
            // By index: an IReadOnlyList's enumerator would be an allocation a round.
            for (int t = 0; t < _topics.Count; t++)
            {
                var topic = _topics[t];
                int start = frames.Count;
                if (!topic.TryRead(_cursor, watermark, frames, maxBytes))
                {
                    frames.Clear();
                    return false;
                }
                long bytes = 0;
                for (int i = start; i < frames.Count; i++) bytes += frames[i].Bytes.Length;
                // This topic may have stopped at its byte budget: go no further than its last frame this round.
                if (bytes >= maxBytes) reached = Math.Min(reached, frames[^1].Position);
            }
            if (_topics.Count > 1)
            {
                frames.Sort(static (a, b) => a.Position.CompareTo(b.Position));
                if (reached < watermark) frames.RemoveAll(frame => frame.Position > reached);
            }
            _stage._host.Served(watermark - _cursor);
            _cursor = reached;
            _progress = reached < watermark ? Progress.Behind : Progress.CaughtUp;
            return true;
        }

        /// <summary>Behind the rings: reads a page from the journal on the pool and comes back through <see cref="OnJournalRead"/>.</summary>
        private void ReadJournal(long watermark)
        {
            _progress = Progress.Reading;
            _stage._host.Served(watermark - _cursor);
            JournalPage.ReadOnPool(_connection, _topics, _cursor, watermark, _gapsReported ??= new(StringComparer.Ordinal), _options,
                _stage._counters, _callback);
        }

        private void OnJournalRead(JournalPage page)
        {
            if (page.Error is { } error)
            {
                FailStage(error);
                return;
            }
            foreach (var gap in page.Gaps) _round.AddHead(gap);
            if (_unsubscribedWhileReading)
            {
                // The page was asked for a topic the server API has since taken this stream off: not its messages now.
                _unsubscribedWhileReading = false;
                _round.Frames.AddRange(page.Frames.Where(frame => _topics.Any(topic => topic.Name == frame.Topic)));
            }
            else
            {
                _round.Frames.AddRange(page.Frames);
            }
            _cursor = page.Reached;
            _progress = page.Complete ? Progress.CaughtUp : Progress.Behind;
            if (!_round.IsEmpty)
            {
                Send(_round);
                return;
            }
            // Nothing there after all (e.g. the topic's newer messages were all removed): look again.
            Emit();
        }
    }
}
