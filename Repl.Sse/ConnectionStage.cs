using System.IO.Pipelines;
using Akka;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using Repl.Actors.Topics;

namespace Repl.Sse;

/// <summary>
/// The one stage of an SSE connection's graph: a cursor over the node's applied log for the connection's topics, which
/// writes each round it takes (a <see cref="WriteRound"/>) to the connection's <see cref="PipeWriter"/> and flushes it.
/// It materializes a task that completes when the stream has ended and no write of it is in flight.
/// </summary>
/// <remarks>
/// <para><b>One stage, shared.</b> The node holds one instance, pre-fused once (<see cref="Graph"/>); what a
/// connection streams is handed to each materialization as an attribute (<see cref="Start"/>), and lives in the logic
/// only. So a connection's graph holds no stage object, shape, port or module tree of its own (bench/README.md, "Where
/// S4's memory per connection goes", for what the cursor source and socket sink this replaces cost). Its one outlet
/// carries nothing: it feeds <see cref="Tail"/>, which never pulls. Akka.NET 1.5.75 runs no graph of a single stage
/// fused: a stage with no port is refused ("Sum of inlets (0) and outlets (0) must be &gt; 0"), and a stage whose outlet
/// feeds its own inlet is materialized alone, its ports actor boundaries (a publisher, a subscriber, an assembly of its
/// own: 1.3 KB more a connection than the tail, measured).</para>
/// <para><b>Order and resume.</b> The cursor is a log position. Each round takes the node's applied watermark W and
/// writes every frame of its topics in (cursor, W], in position order (up to <see cref="SseOptions.MaxWriteBytes"/>),
/// then moves the cursor. Frames at or below W are all in place, so a stream over several topics is still in log order
/// and one <c>Last-Event-ID</c> resumes it exactly.</para>
/// <para><b>Waking.</b> The topics call <see cref="ISubscriber.Notify"/> from the log reader, once per applied
/// batch. That call only flips an interlocked flag and, if it was clear, hands the stage's one async callback to the
/// <see cref="StreamHost"/>, which invokes it from inside its actor (no message per stream): the flag stays set from a
/// write until the next round looks at the watermark (and while a coalescing window, a journal read or a flush is
/// pending), so a connection is woken at most once per batch or window however many batches arrive meanwhile, and the
/// log reader never blocks on it.</para>
/// <para><b>Coalescing.</b> A stream that wrote less than <see cref="SseOptions.CoalesceWindow"/> ago waits for the
/// window's next tick (<see cref="CoalescingWindow"/>: Akka's scheduler cannot time 5 ms), then takes everything pending in one round: on loopback most of a round's cost is the
/// kernel's send, so fewer, fuller writes are the lever under load (bench/README.md: 480k → 1,167k deliveries/s in S2
/// when coalescing came in). A quiet stream writes at once, and so does one whose last round was cut short by
/// <see cref="SseOptions.MaxWriteBytes"/>: it is behind, and its next round is full already.</para>
/// <para><b>Inline writes.</b> A round is written and flushed with no await in between: with
/// <see cref="ChunkedSocketWriter"/> (or Kestrel with inline scheduling) the flush is the socket's <c>send()</c>, on
/// the streams' thread, and the writer's buffer is borrowed for that stretch only — an idle stream holds none. A flush
/// that completes at once lets the next round go at once (at most <see cref="InlineRounds"/> in a row, then after the
/// streams woken meanwhile).</para>
/// <para><b>Slow clients.</b> The stage holds no queue: what it has not written stays in the rings or the journal. A
/// flush that does not complete (the socket is full) is awaited off the thread, bounded by
/// <see cref="SseOptions.StallTimeout"/> (the await's own timer, made only for a flush that waits; no stage timer), and
/// its end comes back through the async callback: on the timeout the connection is counted as cut off, aborted, and
/// the stream ends. Meanwhile the stream takes no round, and the thread serves other streams. A stream that fell
/// behind its topics' rings reads the journal — blocking SQLite, so on the thread pool, with the result handed back
/// through the async callback, never on the streams' one thread (<see cref="JournalPage"/>) — and says <c>gap</c>
/// for what retention removed.</para>
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
/// <para><b>End.</b> Ends after <c>event: deleted</c> once every topic is deleted, after <c>event: expired</c> at
/// <see cref="SseConnection.ExpiresAt"/> (the first sweep after it), after <c>event: unavailable</c> when
/// <see cref="SseConnection.Unavailable"/> fires, after <c>event: disconnect</c> or the last <c>event: unsubscribed</c>
/// from the server API, silently when the stop token fires (request aborted, host stopping) or the client is gone
/// (a flush answered completed or failed), and with the error when a journal read fails. The task completes only once
/// no flush is in flight, so the request's handler never returns while one of our sends could still interleave with
/// Kestrel's closing chunk; stopped with a flush in flight, the stream aborts the connection instead of waiting. It
/// unsubscribes from every topic in <c>PostStop</c>, which runs on every path, failure included.</para>
/// </remarks>
internal sealed partial class ConnectionStage : GraphStageWithMaterializedValue<SourceShape<NotUsed>, Task>
{
    /// <summary>
    /// Rounds a stream writes in a row while its flushes complete at once; then it goes on after the streams woken
    /// meanwhile. The two stages this replaces had the same bound from their interpreter shell's event limit (16 input
    /// buffer slots × 2 ports, a push and a pull a round), so a stream catching up does not hold the streams' thread.
    /// </summary>
    internal const int InlineRounds = 16;

    private readonly SseOptions _options;
    private readonly SseCounters _counters;
    private readonly CoalescingWindow _window;
    private readonly StreamHost.Handle _host;
    private readonly long _windowMs;
    private readonly long _pingMs;

    private ConnectionStage(SseOptions options, SseCounters counters, CoalescingWindow window, StreamHost.Handle host)
    {
        _options = options;
        _counters = counters;
        _window = window;
        _host = host;
        _windowMs = (long)options.CoalesceWindow.TotalMilliseconds;
        _pingMs = (long)options.PingInterval.TotalMilliseconds;
        Shape = new SourceShape<NotUsed>(Out);
    }

    /// <summary>
    /// Every connection's graph, pre-fused: the stage feeding <see cref="Tail"/>. Materialize it with a
    /// <see cref="Start"/> among the attributes.
    /// </summary>
    /// <param name="window">Where a busy stream waits for the end of its coalescing window.</param>
    /// <param name="host">The host the graphs run in (<see cref="StreamHost"/>): wakes go through it.</param>
    public static IGraph<ClosedShape, Task> Graph(SseOptions options, SseCounters counters, CoalescingWindow window, StreamHost.Handle host) =>
        Fusing.Aggressive(Source.FromGraph(new ConnectionStage(options, counters, window, host)).To(Sink.FromGraph(new Tail())));

    public Outlet<NotUsed> Out { get; } = new("sse.connection.out");

    public override SourceShape<NotUsed> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("sse-connection");

    public override ILogicAndMaterializedValue<Task> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var start = inheritedAttributes.GetAttribute<Start>()
            ?? throw new ArgumentException($"An SSE connection's graph is materialized with its {nameof(Start)} among the attributes.", nameof(inheritedAttributes));
        return new LogicAndMaterializedValue<Task>(new Logic(this, start), start.Ended.Task);
    }

    /// <summary>What one materialization streams, handed in with its attributes: the stage itself is the node's, for every connection.</summary>
    /// <param name="Abort">Drops the connection; called when the client stalls, or the stream stops with a flush in flight.</param>
    /// <param name="Stop">Ends the stream without a closing event (the request was aborted, the host is stopping); a flush still in flight then is abandoned and the connection aborted.</param>
    /// <param name="Ended">Completed by the stage when the stream has ended and no flush of it is in flight (its materialized value).</param>
    internal sealed record Start(SseConnection Connection, PipeWriter Writer, Action Abort, CancellationToken Stop, TaskCompletionSource Ended) : Attributes.IAttribute;

    /// <summary>Where the stream is in its life.</summary>
    private enum Phase
    {
        /// <summary>Not started: a stage that never ran <c>PreStart</c> was never counted open.</summary>
        Created,

        /// <summary>Subscribed and counted open; its first round starts with <c>connected</c> (and <c>reset</c>).</summary>
        Opened,

        /// <summary><c>connected</c> was written.</summary>
        Connected,
    }

    /// <summary>Where the next round's messages come from.</summary>
    private enum Progress
    {
        /// <summary>The last round reached the watermark it read up to: the rings cover what follows, and a round due soon after it may wait for the coalescing window.</summary>
        CaughtUp,

        /// <summary>The last round stopped at its byte budget, short of its watermark: the next one is full already and goes at once.</summary>
        Behind,

        /// <summary>A journal page is being read on the pool (<see cref="JournalPage"/>): nothing is written until it is back.</summary>
        Reading,
    }

    /// <summary>The stream's place in the coalescing window (<see cref="CoalescingWindow"/>).</summary>
    private enum Coalescing
    {
        /// <summary>Not waiting, and no window has ended since the last write (or read).</summary>
        None,

        /// <summary>Registered with the window: it wakes the stream at its end. Only one registration at a time.</summary>
        Waiting,

        /// <summary>The window ended since the last write (or read): the next round goes at once.</summary>
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

    /// <summary>
    /// What the stage's outlet feeds, so that the graph has two stages and Akka fuses it: never pulls, and ends when the
    /// stage does. One instance per node, like the stage; per connection only its small logic.
    /// </summary>
    private sealed class Tail : GraphStage<SinkShape<NotUsed>>
    {
        public Tail() => Shape = new SinkShape<NotUsed>(In);

        public Inlet<NotUsed> In { get; } = new("sse.connection.tail");

        public override SinkShape<NotUsed> Shape { get; }

        protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

        // GraphStageLogic(1, 0) makes no log source (the shape's constructor names one, ~120 B a stream).
        private sealed class Logic : GraphStageLogic, IInHandler
        {
            public Logic(Tail tail) : base(1, 0) => SetHandler(tail.In, this);

            public void OnPush()
            {
            }

            public void OnUpstreamFinish() => CompleteStage();

            public void OnUpstreamFailure(Exception e) => FailStage(e);
        }
    }
}
