using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Repl.Actors.Cluster.Etcd;

public sealed partial class EtcdClient
{
    /// <summary>
    /// Watches <paramref name="key"/> (or [key, rangeEnd)) from <paramref name="startRevision"/>,
    /// yielding the changes in revision order until cancelled.
    /// </summary>
    /// <param name="key">The key, or the start of the range.</param>
    /// <param name="rangeEnd">Exclusive end of the range; null for the single key; see <see cref="EtcdKeys.PrefixEnd(string)"/>.</param>
    /// <param name="startRevision">First revision to deliver (history from there is replayed); 0 for changes after now.</param>
    /// <param name="progressNotify">
    /// Ask etcd for periodic empty batches (<see cref="WatchBatch.IsProgressNotify"/>) on an idle watch
    /// (server interval, 10 min by default), which also moves the resume point forward.
    /// </param>
    /// <param name="cancellationToken">Ends the watch.</param>
    /// <remarks>
    /// <para>
    /// When the stream drops (member killed, connection reset, member lost its leader) the
    /// client reconnects, to the next endpoint, and resumes from the revision after the last one
    /// it delivered, so the sequence continues without gaps or duplicates. Reconnection is a
    /// call like any other: if no endpoint takes the watch within <see cref="EtcdOptions.RequestTimeout"/>,
    /// enumeration throws <see cref="EtcdUnavailableException"/>; resume with a new watch from the
    /// last revision seen + 1.
    /// </para>
    /// <para>
    /// Throws <see cref="EtcdCompactedException"/> when the revision to watch from has been compacted
    /// (at start or at a resume), and <see cref="EtcdException"/> when etcd cancels the watch for
    /// another reason.
    /// </para>
    /// </remarks>
    public async IAsyncEnumerable<WatchBatch> WatchAsync(
        byte[] key,
        byte[]? rangeEnd,
        long startRevision,
        bool progressNotify = false,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentOutOfRangeException.ThrowIfNegative(startRevision);

        // The revision to resume from; 0 until the first watch is created when watching "from now".
        var next = startRevision;
        while (true)
        {
            var createRequest = new WatchRequestDto
            {
                CreateRequest = new WatchCreateRequestDto
                {
                    Key = key,
                    RangeEnd = rangeEnd,
                    StartRevision = next == 0 ? null : next,
                    ProgressNotify = progressNotify ? true : null,
                },
            };
            var body = JsonSerializer.SerializeToUtf8Bytes(createRequest, EtcdJsonContext.Default.WatchRequestDto);
            var session = await ExecuteAsync("/v3/watch", (index, ct) => OpenWatchAsync(index, body, next, ct), cancellationToken).ConfigureAwait(false);
            if (next == 0)
            {
                // Watching "from now": the watch covers everything after the revision it was created at.
                next = session.CreatedRevision + 1;
            }

            try
            {
                while (true)
                {
                    WatchResponseDto? response;
                    try
                    {
                        response = await session.ReadAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsTransient(e))
                    {
                        response = null;
                    }

                    if (response is null)
                    {
                        // Dropped: move on from this member and resume where we were.
                        Rotate(session.Index);
                        break;
                    }

                    ThrowIfEnded(response, next);
                    var header = EtcdHeader.From(response.Header);
                    if (response.Events is { Count: > 0 } events)
                    {
                        var batch = new WatchBatch(header, events.ConvertAll(WatchEvent.From));
                        next = batch.Events[^1].Kv.ModRevision + 1;
                        yield return batch;
                    }
                    else if (!response.Created)
                    {
                        // Progress notification: everything up to the header's revision has been delivered.
                        next = Math.Max(next, header.Revision + 1);
                        yield return new WatchBatch(header, []);
                    }
                }
            }
            finally
            {
                await session.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Watches a UTF-8 key, or the range [key, rangeEnd).</summary>
    public IAsyncEnumerable<WatchBatch> WatchAsync(
        string key,
        string? rangeEnd,
        long startRevision,
        bool progressNotify = false,
        CancellationToken cancellationToken = default) =>
        WatchAsync(EtcdKeys.Utf8(key), rangeEnd is null ? null : EtcdKeys.Utf8(rangeEnd), startRevision, progressNotify, cancellationToken);

    /// <summary>Watches every key starting with <paramref name="prefix"/>.</summary>
    public IAsyncEnumerable<WatchBatch> WatchPrefixAsync(
        string prefix,
        long startRevision,
        bool progressNotify = false,
        CancellationToken cancellationToken = default)
    {
        var key = EtcdKeys.Utf8(prefix);
        return WatchAsync(key, EtcdKeys.PrefixEnd(key), startRevision, progressNotify, cancellationToken);
    }

    /// <summary>Opens a watch stream on one endpoint and reads up to etcd's "created" answer.</summary>
    private async Task<WatchSession> OpenWatchAsync(int index, byte[] body, long requestedRevision, CancellationToken ct)
    {
        // ct bounds only the opening: after SendAsync returns, the body is read with the watcher's own token.
        var response = await PostAsync(index, "/v3/watch", body, streaming: true, ct).ConfigureAwait(false);
        var session = new WatchSession(index, response, await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false));
        try
        {
            var created = await session.ReadAsync(ct).ConfigureAwait(false)
                ?? throw new IOException($"{_endpoints[index]} closed the watch stream before creating the watch.");
            ThrowIfEnded(created, requestedRevision);
            if (!created.Created)
            {
                throw new IOException($"{_endpoints[index]} answered the watch without creating it.");
            }

            session.CreatedRevision = created.Header?.Revision ?? 0;
            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static void ThrowIfEnded(WatchResponseDto response, long requestedRevision)
    {
        // etcd answers a watch from a compacted revision with created=true, then a
        // second response with canceled=true and compact_revision set.
        if (response.CompactRevision > 0)
        {
            throw new EtcdCompactedException(requestedRevision, response.CompactRevision);
        }

        if (response.Canceled)
        {
            var reason = string.IsNullOrEmpty(response.CancelReason) ? "no reason given" : response.CancelReason;
            throw new EtcdException($"etcd canceled the watch: {reason}");
        }
    }

    /// <summary>One open watch stream.</summary>
    private sealed class WatchSession(int index, HttpResponseMessage response, Stream stream) : IAsyncDisposable
    {
        private readonly JsonLineReader<StreamLineDto<WatchResponseDto>> _lines = new(stream, EtcdJsonContext.Default.StreamLineDtoWatchResponseDto);

        public int Index { get; } = index;

        public long CreatedRevision { get; set; }

        /// <summary>The next response; null when the stream ended.</summary>
        /// <exception cref="IOException">The gateway reported a stream error (e.g. "no leader").</exception>
        public async Task<WatchResponseDto?> ReadAsync(CancellationToken ct)
        {
            var line = await _lines.ReadAsync(ct).ConfigureAwait(false);
            if (line?.Error is { } error)
            {
                throw new IOException($"watch stream error: {error.Message} (gRPC code {error.GrpcCode}).");
            }

            return line?.Result;
        }

        public async ValueTask DisposeAsync()
        {
            await _lines.DisposeAsync().ConfigureAwait(false);
            response.Dispose();
        }
    }
}
