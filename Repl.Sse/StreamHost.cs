using System.Collections.Concurrent;
using Akka;
using Akka.Actor;
using Akka.Event;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.Stage;
using Repl.Actors.Sequencer;

namespace Repl.Sse;

/// <summary>
/// The one graph that hosts the node's SSE graphs: each connection's graph is materialized with this stage's
/// sub-fusing materializer, so all of them run inside one interpreter actor instead of an actor each.
/// </summary>
/// <remarks>
/// <para><b>Why.</b> A graph of its own per connection is an actor per connection, and every wake of a stream was a
/// message to that actor: a mailbox enqueue, a dispatcher work item, the cold actor cell, mailbox and interpreter of
/// that one connection. With 9,000 streams woken by one applied batch (bench S4) that came to ~5 µs a round above the
/// socket's send, and latency grew with it (p99 ~1.9× the engine before Akka). Sub-fused, each connection is still a
/// graph of its own (one stage, <see cref="ConnectionStage"/>) with its own interpreter shell (a failure aborts that shell only), but the shells share the
/// host's actor: a wake is one callback into the host (<see cref="Handle.Wake(Action{object}, object)"/>), which then re-enters every woken
/// stream's stage through its async callback from inside the actor — Akka.Streams short-circuits those, with no
/// message at all.</para>
/// <para><b>Backlog.</b> Each stream tells the host how far behind the applied log it was when it wrote a round
/// (<see cref="Handle.Served"/>). After each run of wakes the host reports the mean to the node's
/// <see cref="StreamBacklog"/> (0 if no round was written), which holds the node's next batch while it is over the
/// limit. Each stream's lag counts at most a topic's ring, so a few clients that stopped reading move the mean by little.</para>
/// <para><b>Sweep.</b> Every second (or every half <see cref="SseOptions.PingInterval"/>, if shorter) the host looks at
/// each stream it holds (<see cref="Handle.Sweep"/>) and wakes those due for a ping or past their token's expiry,
/// as the node did before the graphs: one timer for the node, not a ping and an expiry timer per stream (~0.8 KB of
/// heap a stream on Akka's scheduler, bench/README.md).</para>
/// <para><b>Fairness.</b> The host actor runs at most <c>akka.stream.materializer.sync-processing-limit</c> events per
/// message before it lets its mailbox (flush completions, timers, new connections) in.</para>
/// </remarks>
internal sealed class StreamHost : GraphStageWithMaterializedValue<SourceShape<NotUsed>, StreamHost.Handle>
{
    private readonly Handle _handle;
    private readonly Handle.Incarnation _incarnation;

    private StreamHost(Handle handle, Handle.Incarnation incarnation)
    {
        _handle = handle;
        _incarnation = incarnation;
        Shape = new SourceShape<NotUsed>(Out);
    }

    public Outlet<NotUsed> Out { get; } = new("sse.host.out");

    public override SourceShape<NotUsed> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("sse-host");

    /// <summary>
    /// Starts a host on <paramref name="materializer"/>, its actor on the streams' dispatcher (<see cref="SseStreams.DispatcherId"/>),
    /// and starts it again whenever it stops while the materializer and its actor system still run.
    /// </summary>
    /// <param name="backlog">Where the host reports how far behind its streams are, if anywhere.</param>
    /// <param name="sweep">How often the host looks for streams due for a ping or past their token's expiry (default 1 s).</param>
    public static Handle Start(ActorMaterializer materializer, StreamBacklog? backlog = null, TimeSpan? sweep = null)
    {
        var handle = new Handle(materializer, backlog, sweep ?? TimeSpan.FromSeconds(1));
        handle.StartIncarnation();
        return handle;
    }

    public override ILogicAndMaterializedValue<Handle> CreateLogicAndMaterializedValue(Attributes inheritedAttributes) =>
        new LogicAndMaterializedValue<Handle>(new Logic(this, _handle, _incarnation), _handle);

    /// <summary>What the rest of the node holds of the host, whichever incarnation of it runs: thread-safe.</summary>
    /// <remarks>
    /// <b>Supervision.</b> A stream that fails ends alone: it is a graph of its own, and Akka.Streams aborts only its
    /// shell. The host itself can still stop — its stage failed (a callback it ran threw) or its actor died (killed, or a
    /// failure that escaped a shell) — and the node's streams would all be gone with it, every later stream refused. So a
    /// host that stops while its materializer and actor system still run is replaced at once by a new incarnation, on
    /// the same handle (the streams' stages hold the handle, never a host). Graphs that ran in a dead actor have ended
    /// (their stages' <c>PostStop</c> ran, so each request sees its stream end); those of a host whose stage failed go on
    /// in its actor, woken through the new host (a message each, no longer short-circuited); a graph handed to a host
    /// that stopped before it took it goes to the next. A host that stops before it ever started is not replaced, so a
    /// host that cannot start does not spin. Wakes are kept in the handle's queue, so a wake in between is run by the
    /// next host. Nothing of this is on the hot path: a wake still reads one field.
    /// </remarks>
    public sealed class Handle
    {
        private static readonly Action<object> RunAction = static action => ((Action)action).Invoke();
        private static readonly Action Probe = static () => { };
        private readonly ActorMaterializer _materializer;
        private readonly StreamBacklog? _backlog;
        private readonly ConcurrentQueue<(Action<object> Callback, object What)> _woken = new();
        // The streams the sweep looks at; under its own lock, as a stream of a replaced host registers from that host's actor.
        private readonly HashSet<ISweptStream> _swept = [];
        // The streams one sweep tells: the host's thread only.
        private readonly List<ISweptStream> _due = [];
        private Incarnation _incarnation = new();
        // The running host's logic, null between two incarnations: what a wake signals.
        private Logic? _running;
        private int _signalled;
        // Rounds written since the last report, and their lags summed: the host's thread only.
        private long _rounds;
        private long _lag;

        internal Handle(ActorMaterializer materializer, StreamBacklog? backlog, TimeSpan sweepInterval)
        {
            _materializer = materializer;
            _backlog = backlog;
            SweepInterval = sweepInterval;
            // A batch waiting for the streams needs a report even if no stream is woken meanwhile.
            backlog?.OnHold(() => Wake(Probe));
        }

        // A host that keeps failing (a graph of the old one that throws on every wake, say) is not replaced in a loop.
        private const int MaxRestarts = 10;
        private static readonly TimeSpan RestartWindow = TimeSpan.FromMinutes(1);
        private readonly Queue<long> _restarts = new();

        /// <summary>Counts a restart in; false once <see cref="MaxRestarts"/> happened within <see cref="RestartWindow"/>.</summary>
        private bool RestartAllowed()
        {
            lock (_restarts)
            {
                long now = Environment.TickCount64;
                while (_restarts.Count > 0 && now - _restarts.Peek() > (long)RestartWindow.TotalMilliseconds) _restarts.Dequeue();
                if (_restarts.Count >= MaxRestarts) return false;
                _restarts.Enqueue(now);
                return true;
            }
        }

        /// <summary>Materializes the current incarnation's host; a failure to do so stops it for good.</summary>
        internal void StartIncarnation()
        {
            var incarnation = Volatile.Read(ref _incarnation);
            try
            {
                Source.FromGraph(new StreamHost(this, incarnation)).To(Sink.Ignore<NotUsed>()).WithAttributes(SseStreams.OnDispatcher).Run(_materializer);
            }
            catch (Exception error)
            {
                incarnation.Stop(new StreamDetachedException("the node's SSE streams could not start: " + error.Message));
            }
        }

        internal void Started(Logic logic, Incarnation incarnation)
        {
            Volatile.Write(ref _running, logic);
            incarnation.Logic.TrySetResult(logic);
        }

        internal void Stopped(Logic logic, Incarnation incarnation)
        {
            Interlocked.CompareExchange(ref _running, null, logic);
            _backlog?.Report(0);
            bool replace = incarnation.Logic.Task.IsCompletedSuccessfully && !_materializer.IsShutdown
                && CoordinatedShutdown.Get(_materializer.System).ShutdownReason is null && !_materializer.System.WhenTerminated.IsCompleted;
            if (replace && !RestartAllowed())
            {
                replace = false;
                logic.Log.Error("The node's SSE host stopped {0} times within {1}: no new one is started, and new streams fail until the node restarts",
                    MaxRestarts, RestartWindow);
            }
            if (replace)
            {
                // The next incarnation is in place before this one's waiters learn it stopped, so they go to it.
                Volatile.Write(ref _incarnation, new Incarnation());
                logic.Log.Warning("The node's SSE host stopped while the node runs: starting a new one");
            }
            incarnation.Stop(new StreamDetachedException("the node's SSE streams have stopped"));
            if (replace) StartIncarnation();
        }

        /// <summary>Materializes <paramref name="graph"/> inside the host; completes with what the graph materializes.</summary>
        /// <param name="attributes">The materialization's initial attributes, instead of the materializer's defaults, if given.</param>
        /// <exception cref="StreamDetachedException">The host has stopped for good (the node is stopping).</exception>
        public async Task<T> MaterializeAsync<T>(IGraph<ClosedShape, T> graph, Attributes? attributes = null)
        {
            while (true)
            {
                var incarnation = Volatile.Read(ref _incarnation);
                Logic logic;
                try
                {
                    logic = await incarnation.Logic.Task.ConfigureAwait(false);
                }
                catch (StreamDetachedException) when (Volatile.Read(ref _incarnation) != incarnation)
                {
                    continue;
                }
                var materialized = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
                logic.Run(materializer =>
                {
                    try
                    {
                        materialized.SetResult(attributes is null ? materializer.Materialize(graph) : materializer.Materialize(graph, attributes));
                    }
                    catch (Exception error)
                    {
                        // A host whose materializer is shutting down still runs for a moment, but refuses graphs.
                        materialized.SetException(_materializer.IsShutdown ? new StreamDetachedException("the node's SSE streams have stopped") : error);
                    }
                });
                // A host that stopped before it took the graph never answers: its stop does, and the graph goes to the
                // next host, if there is one.
                await Task.WhenAny(materialized.Task, incarnation.Stopped.Task).ConfigureAwait(false);
                if (materialized.Task.IsCompleted) return await materialized.Task.ConfigureAwait(false);
                if (Volatile.Read(ref _incarnation) != incarnation) continue;
                await incarnation.Stopped.Task.ConfigureAwait(false);
            }
        }

        /// <summary>How often the running host calls <see cref="Sweep"/>.</summary>
        internal TimeSpan SweepInterval { get; }

        /// <summary>
        /// Calls <paramref name="callback"/> (a hosted stage's async callback) with <paramref name="what"/> from inside the
        /// host, where it costs no message. Any thread; many wakes between two runs of the host are one message to it.
        /// </summary>
        public void Wake(Action<object> callback, object what)
        {
            _woken.Enqueue((callback, what));
            // No host running (between two): the next one drains the queue as it starts.
            if (Interlocked.Exchange(ref _signalled, 1) == 0) Volatile.Read(ref _running)?.Drain();
        }

        /// <summary>Calls <paramref name="callback"/> from inside the host (see the other overload).</summary>
        public void Wake(Action callback) => Wake(RunAction, callback);

        /// <summary>Adds a stream to the sweep, from its stage's <c>PreStart</c>.</summary>
        internal void Register(ISweptStream stream)
        {
            lock (_swept) _swept.Add(stream);
        }

        /// <summary>Takes a stream out of the sweep, from its stage's <c>PostStop</c>.</summary>
        internal void Unregister(ISweptStream stream)
        {
            lock (_swept) _swept.Remove(stream);
        }

        /// <summary>
        /// Tells every stream due for a ping or past its token's expiry, through its async callback (the host's thread,
        /// from the host's timer). Only the due ones cost a callback: an idle node of 9,000 streams reads 9,000 fields.
        /// Not a run of wakes: no backlog report, as the stage timers it replaces made none.
        /// </summary>
        internal void Sweep()
        {
            long now = Environment.TickCount64;
            // Collected under the lock, told after it: a stream may end, and leave the set, inside its callback.
            lock (_swept)
            {
                foreach (var stream in _swept)
                {
                    if (stream.IsDue(now)) _due.Add(stream);
                }
            }
            try
            {
                foreach (var stream in _due) stream.Callback(StreamSignal.Sweep);
            }
            finally
            {
                // A callback that throws fails this host (see Handle); the next one starts with an empty list.
                _due.Clear();
            }
        }

        /// <summary>
        /// Tells <paramref name="what"/> to every stream whose connection <paramref name="matches"/>, through the host
        /// (<see cref="Wake(Action{object}, object)"/>); returns how many. A scan of the sweep's set: for the server API's
        /// rare calls (a disconnect, an unsubscribe), never the hot path.
        /// </summary>
        internal int Tell(Func<SseConnection, bool> matches, object what)
        {
            List<ISweptStream> told = [];
            lock (_swept)
            {
                foreach (var stream in _swept)
                {
                    if (matches(stream.Connection)) told.Add(stream);
                }
            }
            foreach (var stream in told) Wake(stream.Callback, what);
            return told.Count;
        }

        internal void DrainWoken()
        {
            Volatile.Write(ref _signalled, 0);
            while (_woken.TryDequeue(out var woken)) woken.Callback(woken.What);
            if (_backlog is null) return;
            _backlog.Report(_rounds == 0 ? 0 : _lag / _rounds);
            _rounds = 0;
            _lag = 0;
            // Still behind with a batch waiting: report again once the host has run what is in its mailbox.
            if (_backlog.IsBehind && _backlog.Waiting) Wake(Probe);
        }

        /// <summary>A hosted stream wrote a round that began <paramref name="lag"/> positions behind the applied log (the host's thread only).</summary>
        internal void Served(long lag)
        {
            if (_backlog is null) return;
            _rounds++;
            _lag += Math.Min(lag, 4 * _backlog.Limit);
        }

        /// <summary>One run of the host, from its start to its stop.</summary>
        internal sealed class Incarnation
        {
            public TaskCompletionSource<Logic> Logic { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public TaskCompletionSource Stopped { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public void Stop(Exception reason)
            {
                Logic.TrySetException(reason);
                Stopped.TrySetException(reason);
            }
        }
    }

    internal sealed class Logic : TimerGraphStageLogic
    {
        private readonly Handle _handle;
        private readonly Handle.Incarnation _incarnation;
        private Action<Action<IMaterializer>> _run = static _ => { };
        private Action _drain = static () => { };

        public Logic(StreamHost stage, Handle handle, Handle.Incarnation incarnation) : base(stage.Shape)
        {
            _handle = handle;
            _incarnation = incarnation;
            // Never pushes: the host lives until its materializer shuts down (or it fails, see Handle).
            SetHandler(stage.Out, onPull: static () => { });
        }

        public override void PreStart()
        {
            _run = GetAsyncCallback<Action<IMaterializer>>(run => run(SubFusingMaterializer));
            _drain = GetAsyncCallback(_handle.DrainWoken);
            _handle.Started(this, _incarnation);
            ScheduleRepeatedly("sweep", _handle.SweepInterval);
            // Wakes that came before the start.
            _drain();
        }

        protected override void OnTimer(object timerKey) => _handle.Sweep();

        public override void PostStop()
        {
            _handle.Stopped(this, _incarnation);
            base.PostStop();
        }

        /// <summary>Calls <paramref name="run"/> inside the host with its sub-fusing materializer.</summary>
        internal void Run(Action<IMaterializer> run) => _run(run);

        internal void Drain() => _drain();
    }
}
