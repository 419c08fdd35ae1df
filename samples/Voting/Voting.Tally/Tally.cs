using System.Buffers;
using System.Text.Json;

namespace Voting.Tally;

/// <summary>The voting state machine: fed the <c>votes</c> topic in log order, it decides every ballot.</summary>
/// <remarks>
/// Deterministic: the same votes in the same order give the same counts and the same results, which is what makes the
/// tally restart-safe (it rebuilds itself by replaying the topic from position 0). Single-threaded by design: the log
/// already orders the ballots, so there is no worker pool and no mutex around the map as in the RabbitMQ original.
/// <list type="bullet">
/// <item>A ballot is <c>{"userId":"...","option":"A"}</c>: counted once per userId, answered with a confirmation.</item>
/// <item>A second ballot from the same userId, an unknown option or a malformed ballot gets an error and changes nothing.</item>
/// <item><c>{"type":"close"}</c> ends the vote: a final result is published; later ballots get "voting closed".</item>
/// </list>
/// </remarks>
internal sealed class Tally
{
    private readonly string[] _options;
    private readonly int _partialEvery;
    private readonly Dictionary<string, long> _counts;
    private readonly HashSet<string> _voters = new(StringComparer.Ordinal);

    public Tally(string[] options, int partialEvery)
    {
        _options = options;
        _partialEvery = partialEvery;
        _counts = options.ToDictionary(option => option, _ => 0L, StringComparer.Ordinal);
    }

    /// <summary>Votes counted.</summary>
    public long Total { get; private set; }

    /// <summary>Ballots refused (double, invalid, malformed, late).</summary>
    public long Rejected { get; private set; }

    /// <summary>The position of the last message of the votes topic applied.</summary>
    public long Through { get; private set; }

    public bool Closed { get; private set; }

    public IReadOnlyDictionary<string, long> Counts => _counts;

    /// <summary>Applies the vote at <paramref name="position"/> and adds what it answers to <paramref name="results"/>.</summary>
    public void Apply(long position, string value, List<TallyResult> results)
    {
        Through = position;
        string? userId = null, option = null, type = null;
        try
        {
            using var document = JsonDocument.Parse(value);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                userId = root.TryGetProperty("userId", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null;
                option = root.TryGetProperty("option", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
                type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            }
        }
        catch (JsonException)
        {
        }
        if (type == "close")
        {
            Closed = true;
            results.Add(new TallyResult("final", Snapshot("final"), position));
            return;
        }
        string? reason = (userId, option) switch
        {
            (null or "", _) => "malformed ballot: send {\"userId\":\"...\",\"option\":\"...\"}",
            _ when Closed => "voting closed",
            (_, null) => "missing option",
            _ when !_counts.ContainsKey(option) => $"invalid option '{option}': choose one of {string.Join(", ", _options)}",
            _ when _voters.Contains(userId) => "already voted",
            _ => null,
        };
        if (reason is not null)
        {
            Rejected++;
            results.Add(new TallyResult("error", Write(writer =>
            {
                writer.WriteString("type", "error");
                if (userId is null) writer.WriteNull("userId");
                else writer.WriteString("userId", userId);
                writer.WriteString("reason", reason);
            }), position));
            return;
        }
        _voters.Add(userId!);
        _counts[option!]++;
        Total++;
        results.Add(new TallyResult("confirmation", Write(writer =>
        {
            writer.WriteString("type", "confirmation");
            writer.WriteString("userId", userId);
            writer.WriteString("option", option);
            writer.WriteString("message", "vote registered");
        }), position));
        if (_partialEvery > 0 && Total % _partialEvery == 0) results.Add(new TallyResult("partial", Snapshot("partial"), position));
    }

    /// <summary>The counts as a partial or final result.</summary>
    public string Snapshot(string type) => Write(writer =>
    {
        writer.WriteString("type", type);
        writer.WriteStartObject("counts");
        foreach (var option in _options) writer.WriteNumber(option, _counts[option]);
        writer.WriteEndObject();
        writer.WriteNumber("total", Total);
        writer.WriteNumber("rejected", Rejected);
        writer.WriteNumber("through", Through);
    });

    private static string Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
