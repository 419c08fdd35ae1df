using Akka.Actor;
using Repl.Actors.Etcd;
using Repl.Actors.Log;
using Repl.Actors.Messages;

namespace Repl.Actors.Sequencer;

/// <summary>The conversation with the log's one writer (<see cref="SequencerActor"/>).</summary>
public static class SequencerProtocol
{
    /// <summary>
    /// A node's batch of publishes. Answered <see cref="Committed"/> once durable, <see cref="Rejected"/>, or
    /// <see cref="OutcomeUnknown"/> when its write's answer was lost; never split over two writes. A batch whose
    /// <paramref name="DeadlineMs"/> (Unix ms) passed before it was cut is rejected unpersisted, so a caller that gave up
    /// at its deadline knows nothing of it was committed.
    /// </summary>
    /// <param name="Requests">
    /// When set, how many of <paramref name="Commands"/> each caller's request holds, in order: each request is then
    /// committed all or nothing (a broadcast with one unknown topic commits none of its topics). Null: each command
    /// stands alone, its topic decided by itself, as before broadcasts (and as older nodes send it).
    /// </param>
    public sealed record Publish(long BatchId, PublishCommand[] Commands, long DeadlineMs, int[]? Requests = null) : IReplMessage;

    /// <summary>
    /// The positions of a batch's publishes, in order; 0 where the topic did not exist when the batch was cut (for every
    /// command of a request that must commit whole, when one of its topics did not); <see cref="OverRate"/> where its
    /// topic's <c>publishRate</c> refused it (for every command of its request). Neither is committed.
    /// </summary>
    /// <param name="Retried">
    /// Null when every position was committed by its own command; else true at each command whose idempotency key was
    /// committed before (within the window, or by an earlier command of the same write): its position holds that earlier
    /// publish's message, not this command's, and nothing new was committed for it.
    /// </param>
    public sealed record Committed(long BatchId, long[] Positions, bool[]? Retried = null) : IReplMessage;

    /// <summary>
    /// The position of a publish refused at the cut because its topic was over its <see cref="Topics.TopicSettings.PublishRate"/>:
    /// not committed (the route answers 429). A request's publishes are refused or taken together.
    /// </summary>
    public const long OverRate = -1;

    /// <summary>Nothing of the batch (or topic change: <paramref name="BatchId"/> 0) was committed.</summary>
    public sealed record Rejected(long BatchId, string Reason) : IReplMessage;

    /// <summary>
    /// The batch's (or topic change's: <paramref name="BatchId"/> 0) write was sent and its outcome is not known: the
    /// journal lost the answer, so all of it may be committed, or none. Never a part: a write is one transaction.
    /// </summary>
    public sealed record OutcomeUnknown(long BatchId, string Reason) : IReplMessage;

    /// <summary>
    /// Creates, deletes, truncates (<paramref name="Through"/>) or configures a topic, through the log. A settings change
    /// (<see cref="LogEntryKind.Settings"/>) names the <paramref name="Fields"/> of <paramref name="Settings"/> it sets; the
    /// sequencer merges them into the topic's settings at the cut and logs the result whole.
    /// </summary>
    internal sealed record ChangeTopic(LogEntryKind Kind, string Topic, long Through, long DeadlineMs,
        Topics.TopicSettings? Settings = null, Topics.TopicSettingsFields Fields = Topics.TopicSettingsFields.None) : IReplMessage;

    /// <summary>The change's position; 0 when it changed nothing (the topic exists, or does not; a settings change: the topic does not).</summary>
    public sealed record TopicChanged(string Topic, long Position) : IReplMessage;

    /// <summary>The singleton's termination message: commit what is queued, answer every caller, then stop.</summary>
    public sealed record Drain : IReplMessage
    {
        public static readonly Drain Instance = new();
    }

    /// <summary>
    /// The sequencer's state written out whole: the topics that exist at its sequence number, and the idempotency keys
    /// still in their window. Written by earlier versions (and the journal's schema migration); read still, never written.
    /// </summary>
    /// <remarks>It grew with the keys and topics until etcd refused it (1.5 MiB), and then no snapshot was saved again.</remarks>
    internal sealed record Snapshot(string[] Topics, IdempotencyKey[] Keys) : IReplMessage;

    /// <summary>
    /// The sequencer's snapshot: no state, only its sequence number (the snapshot's metadata). Its topic set and
    /// idempotency keys at that number are in the node's journal, which recovery rebuilds them from
    /// (<see cref="SequencerActor"/>), so the snapshot's size does not grow with either.
    /// </summary>
    public sealed record JournalSnapshot : IReplMessage
    {
        public static readonly JournalSnapshot Instance = new();
    }

    /// <summary>Typed key of the sequencer (the singleton proxy) in Akka.Hosting's actor registry.</summary>
    public sealed class Key;

    /// <summary>Where committed entries go on this node (standalone: the sequencer feeds its node's log reader).</summary>
    /// <param name="KeyWindow">How long an idempotency key is remembered, from its publish's time.</param>
    /// <param name="MaxKeys">Most keys remembered; the oldest go first beyond it.</param>
    public sealed record Settings(int MaxBatch, int SnapshotEvery, IActorRef? Reader, TimeSpan KeyWindow = default, int MaxKeys = 1_000_000)
    {
        public TimeSpan KeyWindow { get; init; } = KeyWindow == default ? TimeSpan.FromMinutes(10) : KeyWindow;

        /// <summary>
        /// Most bytes of entries (<see cref="Etcd.LogBatchCodec.SizeOf(string, int, string?)"/>) in one write: a write is
        /// one journal transaction, and etcd's is bounded (<see cref="LogWriteLimits.MaxBytes"/>). A publish
        /// batch larger than this on its own is written alone, whole.
        /// </summary>
        public int MaxWriteBytes { get; init; } = LogWriteLimits.MaxBytes;

        /// <summary>Most topic creates and deletes in one write (<see cref="LogWriteLimits.MaxTopicChanges"/>).</summary>
        public int MaxWriteTopicChanges { get; init; } = LogWriteLimits.MaxTopicChanges;
    }
}
