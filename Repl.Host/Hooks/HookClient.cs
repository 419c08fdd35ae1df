using System.Diagnostics;
using System.Net.Http.Headers;
using Polly.CircuitBreaker;
using Polly.Timeout;
using Repl.Host.Metrics;

namespace Repl.Host.Hooks;

/// <summary>Makes signed hook calls: a slot, the hook's named client, a child span, the metrics.</summary>
/// <remarks>
/// <para>Each hook has its own named <see cref="HttpClient"/> (<see cref="ClientName"/>) from <see cref="IHttpClientFactory"/>,
/// with a resilience pipeline of its own (<see cref="HooksExtensions"/>): a circuit breaker around a timeout of
/// <c>Hooks:Timeout</c>, and no retry — a blocking hook's caller is waiting, and a retry would only add to the load of
/// a backend already in trouble.</para>
/// <para>The blocking hooks (subscribe, publish) share <c>Hooks:MaxInFlight</c> slots. The events hook has slots of
/// its own (<see cref="EventSlots"/>): its one sender posts one event at a time, and a slow events backend must never
/// hold a slot a stream or a publish is waiting for.</para>
/// <para>Registered only when a hook is set: with none, nothing here exists and no route asks for it.</para>
/// </remarks>
internal sealed class HookClient
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    /// <summary>
    /// Events hook calls in flight on this node at most. <see cref="HookEvents"/> has one sender that waits for each
    /// answer, so it never needs more than one; the bound is there so no caller can make the events hook a flood.
    /// </summary>
    internal const int EventSlots = 1;

    private readonly IHttpClientFactory _clients;
    private readonly HooksOptions _options;
    private readonly WebhookSigner _signer;
    private readonly HookMetrics _metrics;
    private readonly ReplTracing _tracing;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _blockingSlots;
    private readonly SemaphoreSlim _eventSlots;
    private readonly Uri?[] _urls;

    public HookClient(IHttpClientFactory clients, HooksOptions options, HookMetrics metrics, ReplTracing tracing, TimeProvider time)
    {
        _clients = clients;
        _options = options;
        _signer = new WebhookSigner(options.SecretBytes());
        _metrics = metrics;
        _tracing = tracing;
        _time = time;
        _blockingSlots = new SemaphoreSlim(options.MaxInFlight, options.MaxInFlight);
        _eventSlots = new SemaphoreSlim(EventSlots, EventSlots);
        _urls = [.. Enum.GetValues<HookKind>().Select(options.UrlOf)];
    }

    /// <summary>The settings the node runs its hooks with.</summary>
    public HooksOptions Options => _options;

    /// <summary>The hooks' instruments, for what callers count themselves (refusals, answers they cannot read).</summary>
    public HookMetrics Metrics => _metrics;

    /// <summary>The name of <paramref name="kind"/>'s client in <see cref="IHttpClientFactory"/> (and of its resilience pipeline).</summary>
    public static string ClientName(HookKind kind) => "repl-hook-" + HookMetrics.Label(kind);

    /// <summary>True when <paramref name="kind"/>'s URL is set.</summary>
    public bool Has(HookKind kind) => _urls[(int)kind] is not null;

    /// <summary>
    /// POSTs <paramref name="body"/> (JSON) to <paramref name="kind"/>'s URL, signed, and returns the answer or why there
    /// is none. Throws only <see cref="OperationCanceledException"/> for <paramref name="cancel"/> (the caller went away).
    /// </summary>
    /// <param name="id">The <c>webhook-id</c>: the same for a redelivery of the same event; null: a new one.</param>
    public async Task<HookReply> CallAsync(HookKind kind, byte[] body, CancellationToken cancel, string? id = null)
    {
        var url = _urls[(int)kind] ?? throw new InvalidOperationException($"the {HookMetrics.Label(kind)} hook is not configured");
        using var activity = _tracing.StartHook(HookMetrics.Label(kind), url);
        long started = Stopwatch.GetTimestamp();
        HookReply reply;
        var slots = kind == HookKind.Events ? _eventSlots : _blockingSlots;
        if (!await slots.WaitAsync(_options.SlotWait, cancel))
        {
            reply = kind == HookKind.Events
                ? HookReply.Fail(HookFailure.NoSlot, $"{EventSlots} events hook call(s) were in flight on this node for {_options.SlotWait.TotalSeconds:0.###} s")
                : HookReply.Fail(HookFailure.NoSlot,
                    $"{_options.MaxInFlight} subscribe and publish hook calls were in flight on this node for {_options.SlotWait.TotalSeconds:0.###} s (Hooks:MaxInFlight, Hooks:SlotWait)");
        }
        else
        {
            try
            {
                reply = await SendAsync(kind, url, body, id ?? "msg_" + Guid.NewGuid().ToString("N"), cancel);
            }
            finally
            {
                slots.Release();
            }
        }
        _metrics.Called(kind, reply.Failure, Stopwatch.GetElapsedTime(started));
        if (reply.Failed) ReplTracing.Failed(activity, reply.Cause!);
        else activity?.SetTag("http.response.status_code", reply.Status);
        return reply;
    }

    private async Task<HookReply> SendAsync(HookKind kind, Uri url, byte[] body, string id, CancellationToken cancel)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = Json;
        _signer.SignRequest(request, id, _time.GetUtcNow(), body);
        // The pipeline's timeout bounds the call up to the answer's head; this one bounds reading its body too.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(_options.Timeout);
        try
        {
            using var response = await _clients.CreateClient(ClientName(kind)).SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token);
            int status = (int)response.StatusCode;
            if (status >= 500) return HookReply.Fail(HookFailure.ServerError, $"the hook answered {status}", status);
            return new HookReply(status, await response.Content.ReadAsByteArrayAsync(deadline.Token), HookFailure.None, null);
        }
        catch (BrokenCircuitException)
        {
            return HookReply.Fail(HookFailure.BreakerOpen,
                $"its circuit breaker is open: the hook failed too often lately, and is tried again after Hooks:BreakFor ({_options.BreakFor.TotalSeconds:0.###} s)");
        }
        catch (Exception timeout) when (timeout is TimeoutRejectedException || (timeout is OperationCanceledException && !cancel.IsCancellationRequested))
        {
            return HookReply.Fail(HookFailure.Timeout, $"no answer within Hooks:Timeout ({_options.Timeout.TotalSeconds:0.###} s)");
        }
        catch (HttpRequestException unreachable)
        {
            return HookReply.Fail(HookFailure.Unreachable, $"the backend could not be reached: {unreachable.Message}");
        }
    }
}
