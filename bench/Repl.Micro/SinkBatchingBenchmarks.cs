using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Repl.Actors.Messages;

namespace Repl.Micro;

/// <summary>
/// An SSE stream's write pattern (<c>Repl.Sse/ConnectionStage.Write.cs</c> and <c>WriteRound.cs</c>: collect the frames, then flush): N shared
/// frames copied into a <see cref="PipeWriter"/> and flushed once, with a reader draining the pipe the way
/// Kestrel's socket does. Per-frame cost falls as the batch grows; that is the adaptive batching's bet.
/// </summary>
[MemoryDiagnoser]
public class SinkBatchingBenchmarks
{
    private Frame[] _frames = [];
    private Pipe _pipe = new();

    /// <summary>Frames written per flush: one message (light traffic) up to a 64 KB round (heavy traffic).</summary>
    [Params(1, 16, 256)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var body = MessageJson.EncodeBody("bench", "1234567890123456789-" + new string('x', 40), [], DateTimeOffset.UnixEpoch);
        _frames = [.. Enumerable.Range(1, BatchSize).Select(i => new Frame(i, "bench", MessageJson.Frame(i, "9f3a1c0b"u8, MessageJson.WithId(i, body))))];
        // Writes never wait on the reader here: the benchmark measures copying and flushing, not backpressure.
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
    }

    /// <summary>One sink round: write every pending frame, flush once, and let the "socket" take it all.</summary>
    [Benchmark(OperationsPerInvoke = 1)]
    public async ValueTask<long> WriteAndFlush()
    {
        var writer = _pipe.Writer;
        foreach (var frame in _frames) writer.Write(frame.Bytes);
        await writer.FlushAsync();
        var reader = _pipe.Reader;
        reader.TryRead(out var read);
        long length = read.Buffer.Length;
        reader.AdvanceTo(read.Buffer.End);
        return length;
    }

    /// <summary>The same frames flushed one at a time: what a sink without batching would pay.</summary>
    [Benchmark]
    public async ValueTask<long> FlushPerFrame()
    {
        var writer = _pipe.Writer;
        var reader = _pipe.Reader;
        long length = 0;
        foreach (var frame in _frames)
        {
            writer.Write(frame.Bytes);
            await writer.FlushAsync();
            reader.TryRead(out var read);
            length += read.Buffer.Length;
            reader.AdvanceTo(read.Buffer.End);
        }
        return length;
    }
}
