using System.Diagnostics.Metrics;
using Repl.Host.Metrics;

namespace Repl.Host.Hooks;

/// <summary>Per hook: calls, refusals, failures by reason, latency, and the circuit breaker's state (docs/metrics.md).</summary>
internal sealed class HookMetrics
{
    private static readonly HookKind[] Kinds = Enum.GetValues<HookKind>();
    private static readonly HookFailure[] Failures = Enum.GetValues<HookFailure>();

    // Tags made once: counting a call allocates nothing.
    private static readonly KeyValuePair<string, object?>[] HookTags = [.. Kinds.Select(kind => new KeyValuePair<string, object?>("hook", Label(kind)))];
    private static readonly KeyValuePair<string, object?>[][][] FailureTags =
        [.. Kinds.Select(kind => Failures.Select(failure => new KeyValuePair<string, object?>[] { HookTags[(int)kind], new("reason", Label(failure)) }).ToArray())];

    private readonly Counter<long> _calls;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _failures;
    private readonly Histogram<double> _duration;
    private readonly int[] _breakers = new int[Kinds.Length];
    private readonly bool[] _configured;

    /// <param name="provider">
    /// Taken so that it is built, and listens, before the instruments are made: the routes find the hooks before
    /// <c>/metrics</c> is mapped, and the series started at 0 here would otherwise not be seen.
    /// </param>
    public HookMetrics(IMeterFactory meters, HooksOptions options, OpenTelemetry.Metrics.MeterProvider provider)
    {
        _ = provider;
        var meter = meters.Create(ReplTelemetry.Name);
        _calls = meter.CreateCounter<long>("repl.hook.calls", "{call}", "Hook calls made or attempted, by hook.");
        _refusals = meter.CreateCounter<long>("repl.hook.refusals", "{call}", "Hook answers that refused (allow:false, 401 or 403), by hook.");
        _failures = meter.CreateCounter<long>("repl.hook.failures", "{call}",
            "Hook calls that came to no usable answer, by hook and reason (timeout, unreachable, server_error, breaker_open, no_slot, bad_answer).");
        _duration = meter.CreateHistogram("repl.hook.duration", "s", "Hook calls, from asking for a slot to the answer read, by hook.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = ReplTelemetry.LatencyBuckets });
        meter.CreateObservableGauge("repl.hook.breaker", Breakers, "{state}", "Each configured hook's circuit breaker: 0 closed, 1 open, 2 half-open.");
        foreach (var kind in Kinds)
        {
            if (options.UrlOf(kind) is null) continue;
            _calls.Add(0, HookTags[(int)kind]);
            _refusals.Add(0, HookTags[(int)kind]);
            foreach (var failure in Failures.Skip(1)) _failures.Add(0, FailureTags[(int)kind][(int)failure]);
        }
        _configured = [.. Kinds.Select(kind => options.UrlOf(kind) is not null)];
    }

    /// <summary>Counts a call and its time, and its failure if it failed.</summary>
    public void Called(HookKind kind, HookFailure failure, TimeSpan elapsed)
    {
        _calls.Add(1, HookTags[(int)kind]);
        _duration.Record(elapsed.TotalSeconds, HookTags[(int)kind]);
        if (failure != HookFailure.None) Failed(kind, failure);
    }

    /// <summary>Counts a failure found after the call (an answer the hook could not read).</summary>
    public void Failed(HookKind kind, HookFailure failure) => _failures.Add(1, FailureTags[(int)kind][(int)failure]);

    /// <summary>Counts a refusal: the backend said no.</summary>
    public void Refused(HookKind kind) => _refusals.Add(1, HookTags[(int)kind]);

    /// <summary>Notes a breaker's new state (from the resilience pipeline's callbacks).</summary>
    public void Breaker(HookKind kind, BreakerState state) => Volatile.Write(ref _breakers[(int)kind], (int)state);

    /// <summary>A circuit breaker's state, as the gauge reports it.</summary>
    public enum BreakerState { Closed = 0, Open = 1, HalfOpen = 2 }

    private IEnumerable<Measurement<int>> Breakers()
    {
        foreach (var kind in Kinds)
        {
            if (_configured[(int)kind]) yield return new Measurement<int>(Volatile.Read(ref _breakers[(int)kind]), HookTags[(int)kind]);
        }
    }

    internal static string Label(HookKind kind) => kind switch
    {
        HookKind.Subscribe => "subscribe",
        HookKind.Publish => "publish",
        _ => "events",
    };

    private static string Label(HookFailure failure) => failure switch
    {
        HookFailure.Timeout => "timeout",
        HookFailure.Unreachable => "unreachable",
        HookFailure.ServerError => "server_error",
        HookFailure.BreakerOpen => "breaker_open",
        HookFailure.NoSlot => "no_slot",
        HookFailure.BadAnswer => "bad_answer",
        _ => "none",
    };
}
