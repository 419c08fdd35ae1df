using System.Text.Json;
using Microsoft.Extensions.Caching.Memory;
using Repl.Host.Contract;

namespace Repl.Host.Hooks;

/// <summary>
/// Asks <c>Hooks:Subscribe</c> before a stream opens: <c>{"topics", "user", "client", "ip", "headers", "claims"?}</c>.
/// </summary>
/// <remarks>
/// <para>The stream route asks before it writes anything, so a refusal or a failure is an ordinary JSON error and no
/// stream starts. A 200 <c>{"allow": true}</c> may narrow the topics (only to topics the client asked for), set the
/// stream's user and end it after <c>expiresIn</c> seconds. <c>{"allow": false}</c> and 403 refuse with 403, 401 with
/// 401; a failed call (timeout, 5xx, unreachable, breaker open, no slot) is a 503 (<see cref="HookResults"/>).</para>
/// <para>With <c>Hooks:CacheFor</c> a decision (allow or refusal, never a failure) is reused for the same user,
/// forwarded header values, topics and address; the stream's own id is left out of the key, or it would never hit.</para>
/// <para>Registered only when <c>Hooks:Subscribe</c> is set; the route holds null otherwise and does no hook work.</para>
/// </remarks>
internal sealed class SubscribeHook : IDisposable
{
    /// <summary><c>HttpContext.Items</c> key of the stream's user as the hook set it (for the events hook).</summary>
    public const string UserItem = "repl.stream-user";

    /// <summary>Most decisions cached; past it the cache evicts, oldest and least used first.</summary>
    private const int MaxCached = 100_000;

    private readonly HookClient _client;
    private readonly TimeProvider _time;
    private readonly string[] _forward;
    private readonly MemoryCache? _cache;

    public SubscribeHook(HookClient client, TimeProvider time)
    {
        _client = client;
        _time = time;
        _forward = client.Options.ForwardHeaderNames();
        if (client.Options.CacheFor > TimeSpan.Zero) _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = MaxCached });
    }

    /// <summary>Asks the hook whether the stream of <paramref name="context"/> may follow <paramref name="topics"/>.</summary>
    public async Task<SubscribeVerdict> AskAsync(HttpContext context, IReadOnlyList<string> topics)
    {
        string? key = _cache is null ? null : CacheKey(context, topics);
        if (key is not null && _cache!.TryGetValue(key, out SubscribeVerdict cached)) return cached;
        byte[] body = HookRequestJson.Object((context, topics, _forward), static (writer, state) =>
        {
            writer.WriteStartArray("topics"u8);
            foreach (var topic in state.topics) writer.WriteStringValue(topic);
            writer.WriteEndArray();
            writer.WriteString("client"u8, StreamClient.IdOf(state.context));
            HookRequestJson.WriteCaller(writer, state.context, state._forward, "headers");
        });
        var reply = await _client.CallAsync(HookKind.Subscribe, body, context.RequestAborted);
        if (HookResults.NotAnAllow(HookKind.Subscribe, reply, _client, context) is { } notAllowed)
        {
            // A refusal is the backend's decision, and cached; a failure is not, the next stream asks again.
            if (reply.Failed || reply.Status is not (StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden)) return new(notAllowed, null, null, null);
            return Remember(key, new(notAllowed, null, null, null));
        }
        SubscribeAnswer? answer;
        try
        {
            answer = JsonSerializer.Deserialize(reply.Body, HooksJsonContext.Default.SubscribeAnswer);
        }
        catch (JsonException bad)
        {
            return new(HookResults.BadAnswer(HookKind.Subscribe, $"its answer is not the hook JSON ({bad.Message})", _client, context), null, null, null);
        }
        if (answer?.Allow is not { } allow)
            return new(HookResults.BadAnswer(HookKind.Subscribe, "its answer has no \"allow\": true or false", _client, context), null, null, null);
        if (!allow)
        {
            _client.Metrics.Refused(HookKind.Subscribe);
            return Remember(key, new(HookResults.Refused(HookKind.Subscribe, StatusCodes.Status403Forbidden, answer.Reason), null, null, null));
        }
        if (answer.ExpiresIn is { } seconds && !(seconds > 0 && seconds <= TimeSpan.MaxValue.TotalSeconds / 2))
            return new(HookResults.BadAnswer(HookKind.Subscribe, $"its \"expiresIn\" ({seconds}) is not a positive number of seconds", _client, context), null, null, null);
        string[]? narrowed = null;
        if (answer.Topics is { } allowed)
        {
            // Narrow only: a topic the client did not ask for is not added.
            narrowed = [.. topics.Where(topic => allowed.Contains(topic, StringComparer.Ordinal))];
            if (narrowed.Length == 0)
            {
                _client.Metrics.Refused(HookKind.Subscribe);
                return Remember(key, new(HookResults.Refused(HookKind.Subscribe, StatusCodes.Status403Forbidden,
                    answer.Reason ?? "the subscribe hook allowed none of the topics asked for"), null, null, null));
            }
        }
        var expiresAt = answer.ExpiresIn is { } expiresIn ? _time.GetUtcNow() + TimeSpan.FromSeconds(expiresIn) : (DateTimeOffset?)null;
        return Remember(key, new(null, narrowed, answer.User, expiresAt));
    }

    private SubscribeVerdict Remember(string? key, SubscribeVerdict verdict)
    {
        if (key is null) return verdict;
        var until = _time.GetUtcNow() + _client.Options.CacheFor;
        // A stream allowed until a time is not allowed past it by the cache either.
        if (verdict.ExpiresAt is { } expires && expires < until) until = expires;
        _cache!.Set(key, verdict, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpiration = until });
        return verdict;
    }

    /// <summary>User, forwarded header values, topics and address: what the backend decides on, never the stream's id.</summary>
    private string CacheKey(HttpContext context, IReadOnlyList<string> topics)
    {
        var key = new System.Text.StringBuilder();
        key.Append(Caller.UserOf(context)).Append('\0').Append(Caller.AddressOf(context));
        HookRequestJson.AppendForwarded(key, context, _forward);
        foreach (var topic in topics) key.Append('\0').Append(topic);
        return key.ToString();
    }

    public void Dispose() => _cache?.Dispose();
}
