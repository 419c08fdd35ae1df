using System.Collections.Concurrent;
using Akka;
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
/// graph of its own stages with its own interpreter shell (a failure aborts that shell only), but the shells share the
/// host's actor: a wake is one callback into the host (<see cref="Handle.Wake"/>), which then re-enters every woken
/// stream's stage through its async callback from inside the actor — Akka.Streams short-circuits those, with no
/// message at all.</para>
/// <para><b>Backlog.</b> Each stream tells the host how far behind the applied log it was when it wrote a round
/// (<see cref="Handle.Served"/>). After each run of wakes the host reports the mean to the node's
/// <see cref="StreamBacklog"/> (0 if no round was written), which holds the node's next batch while it is over the
/// limit. Each stream's lag counts at most a topic's ring, so a few clients that stopped reading move the mean by little.</para>
/// <para><b>Fairness.</b> The host actor runs at most <c>akka.stream.materializer.sync-processing-limit</c> events per
/// message before it lets its mailbox (flush completions, timers, new connections) in.</para>
/// </remarks>
internal sealed class StreamHost : GraphStageWithMaterializedValue<SourceShape<NotUsed>, StreamHost.Handle>
{
    private readonly StreamBacklog? _backlog;

    private StreamHost(StreamBacklog? backlog)
    {
        _backlog = backlog;
        Shape = new SourceShape<NotUsed>(Out);
    }

    public Outlet<NotUsed> Out { get; } = new("sse.host.out");

    public override SourceShape<NotUsed> Shape { get; }

    protected override Attributes InitialAttributes { get; } = Attributes.CreateName("sse-host");

    /// <summary>Starts a host on <paramref name="materializer"/>, its actor on the streams' dispatcher (<see cref="SseStreams.DispatcherId"/>).</summary>
    /// <param name="backlog">Where the host reports how far behind its streams are, if anywhere.</param>
    public static Handle Start(IMaterializer materializer, StreamBacklog? backlog = null) =>
        Source.FromGraph(new StreamHost(backlog)).To(Sink.Ignore<NotUsed>()).WithAttributes(SseStreams.OnDispatcher).Run(materializer);

    public override ILogicAndMaterializedValue<Handle> CreateLogicAndMaterializedValue(Attributes inheritedAttributes)
    {
        var handle = new Handle(_backlog);
        return new LogicAndMaterializedValue<Handle>(new Logic(this, handle), handle);
    }

    /// <summary>What the rest of the node holds of the host: thread-safe.</summary>
    public sealed class Handle
    {
        private static readonly Action Probe = static () => { };
        private readonly StreamBacklog? _backlog;
        private readonly TaskCompletionSource<Logic> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ConcurrentQueue<Action> _woken = new();
        private int _signalled;
        // Rounds written since the last report, and their lags summed: the host's thread only.
        private long _rounds;
        private long _lag;

        internal Handle(StreamBacklog? backlog)
        {
            _backlog = backlog;
            // A batch waiting for the streams needs a report even if no stream is woken meanwhile.
            backlog?.OnHold(() => Wake(Probe));
        }

        internal void Started(Logic logic) => _started.TrySetResult(logic);

        internal void Stopped()
        {
            var detached = new StreamDetachedException("the node's SSE streams have stopped");
            _started.TrySetException(detached);
            _stopped.TrySetException(detached);
            _backlog?.Report(0);
        }

        /// <summary>Materializes <paramref name="graph"/> inside the host; completes with what the graph materializes.</summary>
        /// <exception cref="StreamDetachedException">The host has stopped (the node is stopping).</exception>
        public async Task<T> MaterializeAsync<T>(IRunnableGraph<T> graph)
        {
            var logic = await _started.Task.ConfigureAwait(false);
            var materialized = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
            logic.Run(materializer =>
            {
                try
                {
                    materialized.SetResult(graph.Run(materializer));
                }
                catch (Exception error)
                {
                    materialized.SetException(error);
                }
            });
            // A host that stopped before it took the graph never answers: its stop does.
            await Task.WhenAny(materialized.Task, _stopped.Task).ConfigureAwait(false);
            if (!materialized.Task.IsCompleted) await _stopped.Task.ConfigureAwait(false);
            return await materialized.Task.ConfigureAwait(false);
        }

        /// <summary>
        /// Calls <paramref name="callback"/> (a hosted stage's async callback) from inside the host, where it costs no
        /// message. Any thread; many wakes between two runs of the host are one message to it.
        /// </summary>
        public void Wake(Action callback)
        {
            _woken.Enqueue(callback);
            if (Interlocked.Exchange(ref _signalled, 1) == 0 && _started.Task.IsCompletedSuccessfully) _started.Task.Result.Drain();
        }

        internal void DrainWoken()
        {
            Volatile.Write(ref _signalled, 0);
            while (_woken.TryDequeue(out var callback)) callback();
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
    }

    internal sealed class Logic : GraphStageLogic
    {
        private readonly Handle _handle;
        private Action<Action<IMaterializer>> _run = static _ => { };
        private Action _drain = static () => { };

        public Logic(StreamHost stage, Handle handle) : base(stage.Shape)
        {
            _handle = handle;
            // Never pushes: the host lives until its materializer shuts down.
            SetHandler(stage.Out, onPull: static () => { });
        }

        public override void PreStart()
        {
            _run = GetAsyncCallback<Action<IMaterializer>>(run => run(SubFusingMaterializer));
            _drain = GetAsyncCallback(_handle.DrainWoken);
            _handle.Started(this);
            // Wakes that came before the start.
            _drain();
        }

        public override void PostStop()
        {
            _handle.Stopped();
            base.PostStop();
        }

        /// <summary>Calls <paramref name="run"/> inside the host with its sub-fusing materializer.</summary>
        internal void Run(Action<IMaterializer> run) => _run(run);

        internal void Drain() => _drain();
    }
}
