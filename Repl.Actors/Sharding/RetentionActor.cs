using Akka.Actor;
using Akka.Event;
using Repl.Actors.Sequencer;
using Repl.Actors.Storage;

namespace Repl.Actors.Sharding;

/// <summary>
/// The one owner of when retention runs (a cluster singleton, role <c>broker</c>): every interval it asks its node's
/// journal which topics are over their limits and tells only those topics' entities to apply retention.
/// </summary>
/// <remarks>
/// <para>Asking every topic's entity instead woke every entity on every node each round, so no entity ever
/// passivated. The journal answers with seeks on its <c>(topic, pos)</c> index
/// (<see cref="RetentionQueries.TopicsOver"/>); an idle topic under its limits is not disturbed.</para>
/// <para>The entity still decides the cut and commits it as a truncate entry (<see cref="TopicEntity"/>): in cluster
/// mode the owner's journal is its node's replica, which may lag the log, and an entity told about a cut already
/// committed answers that there is nothing to drop.</para>
/// <para>One round at a time: a tick during a round is skipped; a <see cref="RetentionProtocol.Run"/> during one gets
/// a round of its own after it, so its answer covers what was published before it asked.</para>
/// </remarks>
public sealed class RetentionActor : ReceiveActor, IWithTimers
{
    private readonly Journal _journal;
    private readonly IActorRef _topics;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _askTimeout;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private List<IActorRef> _answerAfterThisRound = [];
    private List<IActorRef> _answerAfterNextRound = [];
    private bool _running;

    /// <param name="topics">The topics' shard region.</param>
    /// <param name="interval">How often a round runs (<c>Node:RetentionInterval</c>).</param>
    /// <param name="askTimeout">How long an entity's answer (its truncate committed, or nothing to drop) is waited for.</param>
    public RetentionActor(Journal journal, IActorRef topics, TimeProvider time, TimeSpan interval, TimeSpan askTimeout)
    {
        _journal = journal;
        _topics = topics;
        _time = time;
        _interval = interval;
        _askTimeout = askTimeout;
        Receive<Tick>(_ =>
        {
            if (!_running) StartRound();
        });
        Receive<RetentionProtocol.Run>(_ =>
        {
            if (_running)
            {
                _answerAfterNextRound.Add(Sender);
                return;
            }
            _answerAfterThisRound.Add(Sender);
            StartRound();
        });
        Receive<RoundDone>(OnRoundDone);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(Journal journal, IActorRef topics, TimeProvider time, TimeSpan interval, TimeSpan askTimeout) =>
        Akka.Actor.Props.Create(() => new RetentionActor(journal, topics, time, interval, askTimeout));

    protected override void PreStart() => Timers.StartPeriodicTimer("retention", Tick.Instance, _interval);

    private void StartRound()
    {
        _running = true;
        // A round that throws still ends one, or no round would ever run again.
        RoundAsync().PipeTo(Self, failure: error => new RoundDone(0, 0, 0, error));
    }

    private void OnRoundDone(RoundDone done)
    {
        _running = false;
        if (done.Error is not null) _log.Warning("Retention: the round failed, the next one tries again: {0}", done.Error.Message);
        else if (done.Told > 0) _log.Debug("Retention: told {0} topics over their limits", done.Told);
        if (done.Unanswered > 0) _log.Warning("Retention: {0} of {1} topics over their limits did not answer within {2:0} s; they are asked again next round",
            done.Unanswered, done.Told, _askTimeout.TotalSeconds);
        foreach (var asker in _answerAfterThisRound) asker.Tell(new RetentionProtocol.Ran(done.Position));
        (_answerAfterThisRound, _answerAfterNextRound) = (_answerAfterNextRound, []);
        if (_answerAfterThisRound.Count > 0) StartRound();
    }

    /// <summary>Off the actor's thread: the journal's query, then every told entity's answer.</summary>
    private async Task<RoundDone> RoundAsync()
    {
        List<string> over;
        try
        {
            over = await Task.Run(() => _journal.Retention.TopicsOver(_time.GetUtcNow()));
        }
        catch (Exception error)
        {
            return new RoundDone(0, 0, 0, error);
        }
        var answers = await Task.WhenAll(over.Select(RetainAsync));
        return new RoundDone(answers.Select(answer => answer ?? 0).DefaultIfEmpty().Max(), over.Count, answers.Count(answer => answer is null), null);
    }

    /// <summary>The position of the topic's truncate (0: nothing to drop, or refused); null when it did not answer.</summary>
    private async Task<long?> RetainAsync(string topic)
    {
        try
        {
            return await _topics.Ask<object>(new TopicProtocol.Retain(topic), _askTimeout) is SequencerProtocol.TopicChanged changed ? changed.Position : 0;
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    private sealed record RoundDone(long Position, int Told, int Unanswered, Exception? Error);
}
