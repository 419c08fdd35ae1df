using Repl.Actors.Storage;
using Repl.Actors.Topics;

namespace Repl.Sse;

/// <summary>What one SSE connection follows and where it starts: the input of <see cref="SseStreams.RunAsync"/>.</summary>
public sealed class SseConnection
{
    /// <summary>The topics, each once.</summary>
    public required IReadOnlyList<TopicHub> Topics { get; init; }

    /// <summary>The node's applied log: its watermark bounds every round.</summary>
    public required TopicRegistry Registry { get; init; }

    /// <summary>Where a stream behind the topics' rings catches up (and learns of gaps).</summary>
    public required Journal Journal { get; init; }

    /// <summary>This node's id, said in <c>event: connected</c>.</summary>
    public required string Node { get; init; }

    /// <summary>
    /// Where the stream starts: the last position the client has (its <c>Last-Event-ID</c>), or, to start live, the
    /// node's applied position taken <b>before</b> the response head is written.
    /// </summary>
    /// <remarks>
    /// Open means subscribed: a client counts a stream from its head (<c>EventSource</c>'s <c>open</c>), so everything
    /// committed after the head must be above the start. The graph begins later, after the head may have left.
    /// </remarks>
    public required long Cursor { get; init; }

    /// <summary>
    /// Set when the client's <c>Last-Event-ID</c> was never issued by this log: the stream says so with
    /// <c>event: reset</c> right after <c>connected</c>, and starts at <see cref="Cursor"/> (0).
    /// </summary>
    public ResumeReset? Reset { get; init; }

    /// <summary>When set, the stream ends at this time with <c>event: expired</c> (the subscriber's token ran out).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>What <c>event: expired</c> says: the token ran out, or the time a backend hook allowed the stream did.</summary>
    public string ExpiredReason { get; init; } = TokenExpired;

    /// <summary>The default <see cref="ExpiredReason"/>.</summary>
    public const string TokenExpired = "the access token expired; reconnect with a new token";

    /// <summary>
    /// When it fires, the stream ends with <c>event: unavailable</c> (<see cref="UnavailableReason"/>): the node lost
    /// its log and the client should reconnect, with its <c>Last-Event-ID</c>, to another node.
    /// </summary>
    public CancellationToken Unavailable { get; init; }

    public string UnavailableReason { get; init; } = "this node lost its connection to the cluster log; reconnect to another node";

    /// <summary>The stream's id, as the server API names it (<c>DELETE /topics/{name}/clients/{client}</c>): its request id.</summary>
    public string? Client { get; init; }

    /// <summary>Whose stream it is (the token's <c>sub</c>, or the user the subscribe hook set); null when anonymous. <c>POST /disconnect</c> finds it by this.</summary>
    public string? User { get; init; }

    /// <summary>
    /// Opened with <c>?presence=1</c>: for each of <see cref="Topics"/>, the version of its presence feed
    /// (<see cref="TopicHub.Presence"/>) taken before the stream joined, from where it reads joins and leaves. Null: no
    /// presence events, and the stream never looks at a feed.
    /// </summary>
    public IReadOnlyList<long>? PresenceFrom { get; init; }

    /// <summary>The clock that <see cref="ExpiresAt"/> is read against.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
