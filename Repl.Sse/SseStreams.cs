using System.IO.Pipelines;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Microsoft.Extensions.Options;
using Repl.Actors.Sequencer;

namespace Repl.Sse;

/// <summary>
/// The node's SSE streams: materializes one Akka.Streams graph per connection (one <see cref="ConnectionStage"/>)
/// inside the node's <see cref="StreamHost"/> on the streams' own one-thread dispatcher, and keeps the streams' options
/// and counters.
/// </summary>
/// <remarks>
/// <para><b>Why one thread.</b> At 1,000 streams × 200 messages/s a round carries one message, and what a round costs
/// beside the kernel's send is scheduling: a pool work item per stream woken, queued behind (and ahead of) the publish
/// requests. Replacing that with one dedicated thread that ran every notified stream's round inline took S2 from 1.4M
/// to 3.7M deliveries/s (bench/README.md). The graphs keep that shape: their one thread runs the host's interpreter
/// actor, which runs every graph, a round's flush included (Kestrel's inline scheduling, or <see cref="ChunkedSocketWriter"/>).
/// A round that has to wait — a full socket, a journal read — waits off that thread.</para>
/// <para><b>Cost.</b> A graph per connection measured ~5.6 KB of heap and ~3 µs per element here (akka.md), so the
/// graph is one stage of our own that reads and writes whole rounds. The stage is the node's one instance, pre-fused
/// once (<see cref="ConnectionStage.Graph"/>): each connection's graph reuses its module and assembly, and gets its
/// connection through its materialization's attributes (<see cref="ConnectionStage.Start"/>), which replace the
/// materializer's defaults, so it shares the materializer's settings too (bench/README.md, "Where S4's memory per
/// connection goes").</para>
/// </remarks>
public sealed class SseStreams : IDisposable
{
    /// <summary>The config path of the streams' dispatcher (see <see cref="DefaultConfig"/>).</summary>
    public const string DispatcherId = "repl.sse.dispatcher";

    /// <summary>
    /// The streams' HOCON, like a library's <c>reference.conf</c>: add it to the actor system's configuration as a fallback.
    /// </summary>
    /// <remarks>
    /// One dedicated thread (a <c>ForkJoinDispatcher</c> over a one-thread pool; a <c>PinnedDispatcher</c> would give every
    /// graph a thread of its own). <c>throughput</c> bounds how many messages one graph handles before the thread moves on.
    /// </remarks>
    public const string DefaultConfig = """
        repl.sse.dispatcher {
          type = ForkJoinDispatcher
          throughput = 64
          dedicated-thread-pool {
            thread-count = 1
            threadtype = background
          }
        }
        """;

    /// <summary>Runs a graph on the streams' dispatcher.</summary>
    internal static readonly Attributes OnDispatcher = ActorAttributes.CreateDispatcher(DispatcherId);
    private readonly ActorMaterializer _materializer;
    private readonly CoalescingWindow _window;
    private readonly StreamHost.Handle _host;
    // Every connection's graph: no dispatcher attribute, as the host's sub-fusing materializer runs it in the host's
    // actor whatever it says, and an attribute would cost a copy of the settings per connection.
    private readonly IGraph<ClosedShape, Task> _graph;

    /// <param name="backlog">The node's <see cref="StreamBacklog"/>: the host reports to it how far behind the streams run.</param>
    public SseStreams(ActorSystem system, IOptions<SseOptions> options, SseCounters counters, StreamBacklog? backlog = null)
    {
        Options = options.Value;
        Counters = counters;
        _materializer = system.Materializer(namePrefix: "sse");
        _host = StreamHost.Start(_materializer, backlog, SweepInterval(Options.PingInterval));
        _window = new CoalescingWindow(Options.CoalesceWindow, _host);
        _graph = ConnectionStage.Graph(Options, Counters, _window, _host);
    }

    public SseOptions Options { get; }

    /// <summary>
    /// How often the host looks for pings due and tokens expired: every second, as the node did before the graphs, or
    /// every half ping interval if that is shorter, but no more often than Akka's scheduler ticks (10 ms).
    /// </summary>
    internal static TimeSpan SweepInterval(TimeSpan pingInterval)
    {
        var half = pingInterval / 2;
        return half > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : half < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10) : half;
    }

    /// <summary>Running totals of the node's streams.</summary>
    public SseCounters Counters { get; }

    /// <summary>
    /// Streams <paramref name="connection"/> to <paramref name="writer"/> until the client goes away or stalls, the token
    /// expires, all topics are deleted, the node becomes unavailable, or <paramref name="stop"/> fires.
    /// </summary>
    /// <param name="abort">Drops the connection; called when the client stalls, or the stream stops with a write in flight.</param>
    /// <returns>Completes when the stream has ended and no write of it is in flight.</returns>
    /// <remarks>
    /// Neither an async method nor the materialization's task unwrapped: either would be held for the stream's life (160
    /// and 72 B). The stage completes the task made here; a graph that could not be materialized fails it.
    /// </remarks>
    public Task RunAsync(SseConnection connection, PipeWriter writer, Action abort, CancellationToken stop)
    {
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _host.MaterializeAsync(_graph, Attributes.None.And(new ConnectionStage.Start(connection, writer, abort, stop, ended)))
            .ContinueWith(static (materialized, ended) => ((TaskCompletionSource)ended!).TrySetException(materialized.Exception!.InnerExceptions), ended,
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return ended.Task;
    }

    /// <summary>
    /// Ends every stream of <paramref name="user"/> on this node: each says <c>event: disconnect</c> with
    /// <c>{"reason"}</c>, then closes. Returns how many were told.
    /// </summary>
    public int Disconnect(string user, string reason) =>
        _host.Tell(connection => string.Equals(connection.User, user, StringComparison.Ordinal), new StreamDisconnect(reason));

    /// <summary>
    /// Takes the stream <paramref name="client"/> off <paramref name="topic"/>, if it runs on this node and was opened
    /// with that topic: it says <c>event: unsubscribed</c> and goes on with its other topics, or closes. Returns how many
    /// streams were told (0 or 1: a client id is a request id).
    /// </summary>
    public int Unsubscribe(string client, string topic) =>
        _host.Tell(connection => string.Equals(connection.Client, client, StringComparison.Ordinal) && connection.Topics.Any(hub => hub.Name == topic),
            new StreamUnsubscribe(topic));

    public void Dispose()
    {
        _window.Dispose();
        _materializer.Dispose();
    }
}
