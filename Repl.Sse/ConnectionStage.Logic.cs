using System.IO.Pipelines;
using Akka.Streams.Stage;
using Repl.Actors.Messages;
using Repl.Actors.Topics;

namespace Repl.Sse;

internal sealed partial class ConnectionStage
{
    /// <summary>One connection's state and its rounds: the cursor, here; the writes, flushes and the end, in <c>ConnectionStage.Write.cs</c>.</summary>
    /// <remarks>
    /// Its own out-handler (the tail never pulls), made with <c>GraphStageLogic(0, 1)</c>, which makes no log source (the
    /// shape's constructor names one, ~120 B a stream).
    /// </remarks>
    private sealed partial class Logic : GraphStageLogic, IOutHandler, ISubscriber, ISweptStream
    {
        private static readonly byte[] PingEvent = SseEvents.Ping.ToArray();

        private readonly ConnectionStage _stage;
        private readonly SseConnection _connection;
        private readonly PipeWriter _writer;
        private readonly Action _abort;
        private readonly CancellationToken _stop;
        private readonly TaskCompletionSource _ended;
        // The topics still followed: the connection's own list until one is deleted, a copy from then on.
        private IReadOnlyList<TopicHub> _topics;
        // Every event from outside the stage comes through this one callback (StreamSignal, TopicHub, JournalPage, StreamDisconnect, StreamUnsubscribe).
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
        // The events of the round started before a journal read (connected, deleted, unsubscribed), if any: they go out with the page.
        private WriteRound? _beforeRead;
        private byte[]? _closing;
        private bool _pingDue;
        // ?presence=1 only: one cursor per topic still followed.
        private List<PresenceCursor>? _presence;

        public Logic(ConnectionStage stage, Start start) : base(0, 1)
        {
            SetHandler(stage.Out, this);
            _stage = stage;
            _connection = start.Connection;
            _writer = start.Writer;
            _abort = start.Abort;
            _stop = start.Stop;
            _ended = start.Ended;
            _topics = _connection.Topics;
        }

        public Action<object> Callback => _callback;

        public SseConnection Connection => _connection;

        public override void PreStart()
        {
            try
            {
                Open();
            }
            catch (Exception error)
            {
                // Akka fails the stage with it; the request learns it from the task.
                _failure ??= error;
                throw;
            }
        }

        private void Open()
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
            // The start was fixed before the head (SseConnection.Cursor); subscribed now, the first round reads everything
            // applied above it, and anything applied after that wakes us.
            _cursor = _connection.Cursor;
            Volatile.Write(ref _lastPushMs, Environment.TickCount64);

            // Pings and the token's expiry come from the host's sweep, not from a timer of our own.
            _stage._host.Register(this);
            if (_connection.ExpiresAt is not null && IsExpired()) _closing = Expired;
            if (_stop.IsCancellationRequested)
            {
                Stop();
                return;
            }
            if (_stop.CanBeCanceled) _stopRegistration = _stop.Register(static state => ((Action<object>)state!)(StreamSignal.Stop), _callback);
            if (_connection.Unavailable.CanBeCanceled)
            {
                _unavailableRegistration = _connection.Unavailable.Register(static state => ((Action<object>)state!)(StreamSignal.Unavailable), _callback);
            }
            // The first round: connected, and whatever was applied since the start was fixed.
            Emit();
        }

        public override void PostStop()
        {
            _stopped = true;
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
            if (_failure is { } failure) _ended.TrySetException(failure);
            else _ended.TrySetResult();
            base.PostStop();
        }

        // The tail never pulls, nor cancels but when the stage failed.
        void IOutHandler.OnPull()
        {
        }

        void IOutHandler.OnDownstreamFinish(Exception cause) => Stop();

        void ISubscriber.Notify()
        {
            if (Interlocked.Exchange(ref _scheduled, 1) == 0) _stage._host.Wake(_callback, StreamSignal.Wake);
        }

        void ISubscriber.OnTopicDeleted(TopicHub topic) => _callback(topic);

        /// <summary>The host's thread: reads the last write's time (written with a barrier), the options and the connection, which do not change.</summary>
        bool ISweptStream.IsDue(long nowMs) =>
            nowMs - Volatile.Read(ref _lastPushMs) >= _stage._pingMs || (_connection.ExpiresAt is not null && IsExpired());

        private bool IsExpired() => _connection.Time.GetUtcNow() >= _connection.ExpiresAt!.Value;

        private byte[] Expired => SseEvents.Closing("expired", _connection.ExpiredReason);

        /// <summary>The one async callback: whatever happened outside the stage, on the stage's thread.</summary>
        private void OnSignal(object what)
        {
            try
            {
                Handle(what);
            }
            catch (Exception error)
            {
                // Ends like any other failure: after a flush in flight, and the request learns it from the task.
                Stop(error);
            }
        }

        private void Handle(object what)
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
                case StreamSignal signal when signal == StreamSignal.More:
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
                    Stop();
                    break;
                case StreamSignal signal when signal == StreamSignal.Unavailable:
                    Close(SseEvents.Closing("unavailable", _connection.UnavailableReason));
                    break;
                case StreamSignal signal when signal == StreamSignal.Sent || signal == StreamSignal.Closed || signal == StreamSignal.Stalled:
                    OnFlushed(signal);
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
            if (Environment.TickCount64 - _lastPushMs < _stage._pingMs) return;
            // A stream still flushing is not idle: no ping to add behind it.
            _pingDue = !_flushing;
            Emit();
        }

        private void Close(byte[] closingEvent)
        {
            _closing ??= closingEvent;
            Emit();
        }

        /// <summary>
        /// Writes rounds while there is something to send and each flush completes at once, at most
        /// <see cref="InlineRounds"/> in a row (then the rest after the streams woken meanwhile, through the host).
        /// </summary>
        private void Emit()
        {
            for (int rounds = 0; NextRound(); rounds++)
            {
                if (rounds + 1 < InlineRounds) continue;
                // Its wake flag is set (the last write set it), so nothing else wakes it meanwhile.
                _stage._host.Wake(_callback, StreamSignal.More);
                return;
            }
        }

        /// <summary>
        /// Builds the next round, if nothing is in flight (a flush, a journal read) and there is something to send, and
        /// writes it. True when the round was flushed at once and the stream goes on: the next one may go now.
        /// </summary>
        private bool NextRound()
        {
            if (_progress == Progress.Reading || _flushing || _ending) return false;
            var round = WriteRound.OfThisThread();
            if (_phase != Phase.Connected)
            {
                _phase = Phase.Connected;
                round.AddHead(SseEvents.Connected(_stage._options.Retry, _topics.Select(topic => topic.Name), _connection.Node, _cursor, _connection.Registry.Epoch.Text, _connection.Client));
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
                    SendLast(round);
                    return false;
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
                SendLast(round);
                return false;
            }

            // A stream that will wait for its window if anything is new looks with its wake flag still set: the window's
            // end wakes it, and a Notify in between would only wake it a second time inside one window.
            bool waits = WaitsForWindow(round);
            if (waits && _connection.Registry.AppliedPosition > _cursor) return HoldForWindow();
            // From here until the next write (or hold), a Notify must wake us: clear the flag, then read the watermark.
            Volatile.Write(ref _scheduled, 0);
            long watermark = _connection.Registry.AppliedPosition;
            if (watermark > _cursor)
            {
                if (waits) return HoldForWindow();
                PastWindow();
                if (!FromMemory(watermark, round.Frames))
                {
                    Volatile.Write(ref _scheduled, 1);
                    if (!round.IsEmpty) _beforeRead = round.Copy();
                    ReadJournal(watermark);
                    return false;
                }
            }
            if (_presence is not null) ReadPresence(round);
            if (_pingDue)
            {
                _pingDue = false;
                if (round.IsEmpty) round.AddTail(PingEvent);
            }
            return !round.IsEmpty && Send(round);
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
        /// Whether a round of messages only waits for the end of the coalescing window: the stream is caught up, wrote
        /// less than a window ago, no window ended since, and the round owes nothing else (no head, closing or ping).
        /// </summary>
        private bool WaitsForWindow(WriteRound round) =>
            _progress == Progress.CaughtUp && _coalescing != Coalescing.Ended && round.IsEmpty && !_pingDue
            && _stage._windowMs > 0 && Environment.TickCount64 - _lastPushMs < _stage._windowMs;

        /// <summary>Waits for the end of the coalescing window, which wakes the stream (one registration at a time); nothing else need wake it meanwhile.</summary>
        private bool HoldForWindow()
        {
            Volatile.Write(ref _scheduled, 1);
            if (_coalescing == Coalescing.None)
            {
                _coalescing = Coalescing.Waiting;
                _stage._window.Hold(_callback);
            }
            return false;
        }

        /// <summary>A window that ended counted for one round; a registration still waiting stays (its end wakes the stream once more).</summary>
        private void PastWindow()
        {
            if (_coalescing == Coalescing.Ended) _coalescing = Coalescing.None;
        }

        /// <summary>Reads the topics' rings into <paramref name="frames"/>; false, with nothing read, when one does not cover the cursor.</summary>
        private bool FromMemory(long watermark, List<Frame> frames)
        {
            long reached = watermark;
            int maxBytes = _stage._options.MaxWriteBytes;
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
            JournalPage.ReadOnPool(_connection, _topics, _cursor, watermark, _gapsReported ??= new(StringComparer.Ordinal), _stage._options,
                _stage._counters, _callback);
        }

        private void OnJournalRead(JournalPage page)
        {
            if (page.Error is { } error)
            {
                Stop(error);
                return;
            }
            // The round started before the read (connected, deleted, unsubscribed) goes out with the page.
            var round = _beforeRead ?? WriteRound.OfThisThread();
            _beforeRead = null;
            foreach (var gap in page.Gaps) round.AddHead(gap);
            if (_unsubscribedWhileReading)
            {
                // The page was asked for a topic the server API has since taken this stream off: not its messages now.
                _unsubscribedWhileReading = false;
                round.Frames.AddRange(page.Frames.Where(frame => _topics.Any(topic => topic.Name == frame.Topic)));
            }
            else
            {
                round.Frames.AddRange(page.Frames);
            }
            _cursor = page.Reached;
            _progress = page.Complete ? Progress.CaughtUp : Progress.Behind;
            // Sent, or nothing there after all (e.g. the topic's newer messages were all removed): look again.
            if (round.IsEmpty || Send(round)) Emit();
        }
    }
}
