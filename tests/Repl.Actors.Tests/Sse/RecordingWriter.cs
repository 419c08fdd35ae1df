using System.Buffers;
using System.IO.Pipelines;
using System.Threading.Channels;
using Repl.Sse;

namespace Repl.Actors.Tests.Sse;

/// <summary>
/// A connection's body writer for the stage specs, in place of a socket: each flush is one round, read back as the
/// events a client parses. Flushes can be held (a client that does not read: the flush waits until
/// <see cref="Release"/>), and the client can go (every flush then answers that the response is over).
/// </summary>
internal sealed class RecordingWriter : PipeWriter
{
    private static readonly FlushResult Open = new(isCanceled: false, isCompleted: false);
    private static readonly FlushResult Over = new(isCanceled: false, isCompleted: true);
    private readonly ArrayBufferWriter<byte> _buffer = new();
    private readonly Channel<Round> _rounds = Channel.CreateUnbounded<Round>();
    private readonly Lock _lock = new();
    private TaskCompletionSource<FlushResult>? _held;
    private bool _hold;
    private bool _gone;

    /// <summary>One flush: the events it carried.</summary>
    public sealed record Round(List<SseEvent> Events)
    {
        public IEnumerable<string> Types => Events.Select(e => e.Type);

        public int Messages => Events.Count(e => e.Type == "message");

        /// <summary>The log positions of its messages, from their ids (<c>{position}@{epoch}</c>).</summary>
        public IEnumerable<long> Positions => Events.Where(e => e.Type == "message").Select(e => long.Parse(e.Id![..e.Id!.IndexOf('@')]));
    }

    /// <summary>From now on, each flush waits until <see cref="Release"/> (or until the client goes).</summary>
    public void Hold()
    {
        lock (_lock) _hold = true;
    }

    /// <summary>Lets the flush that waits complete, and the next ones complete at once.</summary>
    public void Release()
    {
        TaskCompletionSource<FlushResult>? held;
        lock (_lock)
        {
            _hold = false;
            held = _held;
            _held = null;
        }
        held?.SetResult(Open);
    }

    /// <summary>The client is gone: a flush that waits, and every later one, answers that the response is over.</summary>
    public void Go()
    {
        TaskCompletionSource<FlushResult>? held;
        lock (_lock)
        {
            _gone = true;
            held = _held;
            _held = null;
        }
        held?.SetResult(Over);
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => _buffer.GetSpan(sizeHint);

    public override Memory<byte> GetMemory(int sizeHint = 0) => _buffer.GetMemory(sizeHint);

    public override void Advance(int bytes) => _buffer.Advance(bytes);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        _rounds.Writer.TryWrite(new Round(SseGraphFixture.Events(_buffer.WrittenSpan.ToArray())));
        _buffer.Clear();
        lock (_lock)
        {
            if (_gone) return ValueTask.FromResult(Over);
            if (!_hold) return ValueTask.FromResult(Open);
            _held = new TaskCompletionSource<FlushResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            return new ValueTask<FlushResult>(_held.Task);
        }
    }

    /// <summary>The next round flushed, waiting at most <paramref name="wait"/>.</summary>
    public async Task<Round> NextAsync(TimeSpan wait) => await _rounds.Reader.ReadAsync().AsTask().WaitAsync(wait);

    /// <summary>Fails if a round is flushed within <paramref name="wait"/>.</summary>
    public async Task ExpectNoRoundAsync(TimeSpan wait)
    {
        // Waits without reading: a read given up on would still take the next round.
        try
        {
            await _rounds.Reader.WaitToReadAsync().AsTask().WaitAsync(wait);
        }
        catch (TimeoutException)
        {
            return;
        }
        Assert.True(_rounds.Reader.TryPeek(out var round));
        Assert.Fail($"expected no round, got {string.Join(", ", round.Types)}");
    }

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }
}
