using BenchmarkDotNet.Attributes;
using Repl.Actors.Messages;

namespace Repl.Micro;

/// <summary>
/// The per-message encoding work of a publish: the body once at request time, the id spliced in after commit,
/// and the SSE frame built once for every subscriber.
/// </summary>
[MemoryDiagnoser]
public class MessageJsonBenchmarks
{
    private static readonly DateTimeOffset CreatedAt = new(2026, 11, 22, 5, 0, 0, TimeSpan.Zero);
    private string _value = "";
    private KeyValuePair<string, string>[] _headers = [];
    private byte[] _body = [];
    private byte[] _json = [];

    /// <summary>Value length: ~60 bytes as in the load scenarios, and a 1 KB payload.</summary>
    [Params(60, 1024)]
    public int ValueBytes { get; set; }

    /// <summary>ASCII text, or Portuguese (about one character in ten is not ASCII: ç, ã, é).</summary>
    [Params("ascii", "pt")]
    public string Text { get; set; } = "ascii";

    [GlobalSetup]
    public void Setup()
    {
        string filler = Text == "pt" ? "votação na eleição, não é? " : "voting in the election, ok? ";
        _value = "1234567890123456789-" + string.Concat(Enumerable.Repeat(filler, ValueBytes / filler.Length + 1))[..(ValueBytes - 20)];
        _headers = [new("content-type", "text/plain"), new("trace", "abc123")];
        _body = MessageJson.EncodeBody("bench", _value, _headers, CreatedAt);
        _json = MessageJson.WithId(123_456_789, _body);
    }

    [Benchmark]
    public byte[] EncodeBody() => MessageJson.EncodeBody("bench", _value, _headers, CreatedAt);

    [Benchmark]
    public byte[] WithId() => MessageJson.WithId(123_456_789, _body);

    [Benchmark]
    public byte[] Frame() => MessageJson.Frame(123_456_789, "9f3a1c0b"u8, _json);

    /// <summary>All three, as the server does once per published message.</summary>
    [Benchmark]
    public byte[] EncodeWithIdFrame()
    {
        var body = MessageJson.EncodeBody("bench", _value, _headers, CreatedAt);
        var json = MessageJson.WithId(123_456_789, body);
        return MessageJson.Frame(123_456_789, "9f3a1c0b"u8, json);
    }
}
