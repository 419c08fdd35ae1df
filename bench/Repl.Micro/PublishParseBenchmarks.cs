using System.Buffers;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Repl.Actors.Log;
using Repl.Actors.Messages;

namespace Repl.Micro;

/// <summary>
/// Reading a publish body <c>{"value":"...","headers":{...}}</c> with <see cref="Utf8JsonReader"/> into a
/// <see cref="PublishCommand"/>, as <c>Repl.Host/Api/PublishInput.cs</c> does.
/// </summary>
/// <remarks>
/// <c>PublishInput</c> is internal to Repl.Host, so this is a faithful copy of its happy path (string value,
/// string headers, unknown properties skipped). With <c>InternalsVisibleTo Include="Repl.Micro"</c> on Repl.Host
/// it could call the real one.
/// </remarks>
[MemoryDiagnoser]
public class PublishParseBenchmarks
{
    private ReadOnlySequence<byte> _body;

    [Params(60, 1024)]
    public int ValueBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        string value = "1234567890123456789-" + new string('x', ValueBytes - 20);
        _body = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes($"{{\"value\":\"{value}\",\"headers\":{{\"trace\":\"abc123\"}}}}"));
    }

    /// <summary>Parse only: the value and header strings.</summary>
    [Benchmark]
    public int Parse()
    {
        var (value, headers) = Read(_body);
        return value.Length + headers.Count;
    }

    /// <summary>Parse and encode the body JSON: the request-time work of one publish.</summary>
    [Benchmark]
    public PublishCommand ParseAndEncode()
    {
        var (value, headers) = Read(_body);
        var now = DateTimeOffset.UtcNow;
        return new PublishCommand("bench", MessageJson.EncodeBody("bench", value, headers, now), now.ToUnixTimeMilliseconds());
    }

    private static (string Value, List<KeyValuePair<string, string>> Headers) Read(ReadOnlySequence<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        string value = "";
        var headers = new List<KeyValuePair<string, string>>();
        reader.Read(); // {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("value"u8))
            {
                reader.Read();
                value = reader.TokenType == JsonTokenType.String ? reader.GetString()! : JsonDocument.ParseValue(ref reader).RootElement.GetRawText();
            }
            else if (reader.ValueTextEquals("headers"u8))
            {
                reader.Read();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    string key = reader.GetString()!;
                    reader.Read();
                    headers.Add(new(key, reader.GetString()!));
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return (value, headers);
    }
}
