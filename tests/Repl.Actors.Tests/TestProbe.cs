using System.Threading.Channels;

namespace Repl.Actors.Tests;

/// <summary>Collects what an actor sends it; tests wait on it with a timeout (never sleep-poll).</summary>
public sealed class TestProbe<T>
{
    private readonly Channel<T> _received = Channel.CreateUnbounded<T>();

    public void Tell(T message) => _received.Writer.TryWrite(message);

    public async Task<T> ExpectAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(5));
        try
        {
            return await _received.Reader.ReadAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the probe received no {typeof(T).Name} in time");
        }
    }

    public async Task ExpectNoMessageAsync(TimeSpan within)
    {
        using var cancel = new CancellationTokenSource(within);
        try
        {
            var message = await _received.Reader.ReadAsync(cancel.Token);
            Assert.Fail($"expected nothing, got {message}");
        }
        catch (OperationCanceledException)
        {
        }
    }
}
