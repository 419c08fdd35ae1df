using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Repl.Host.Hooks;

/// <summary>Adds the backend hooks to a node (called from <see cref="ReplHost"/>).</summary>
internal static class HooksExtensions
{
    /// <summary>Most bytes of a hook's answer read; a longer one is a failed call.</summary>
    private const int MaxAnswerBytes = 1 << 20;

    /// <summary>
    /// Validates <c>Hooks</c> (a setting that cannot work stops the node: <see cref="SettingsException"/>)
    /// and, when a hook is set, registers <see cref="HooksOptions"/>, <see cref="HookMetrics"/>, <see cref="HookClient"/>
    /// and one named client per set hook. With no hook set it registers nothing: routes find no <see cref="HookClient"/>.
    /// </summary>
    public static IServiceCollection AddReplHooks(this IServiceCollection services, IConfiguration configuration)
    {
        var hooks = configuration.GetSection("Hooks").Get<HooksOptions>() ?? new HooksOptions();
        hooks.Validate();
        if (!hooks.Enabled) return services;
        services.AddSingleton(hooks);
        services.AddSingleton<HookMetrics>();
        services.AddSingleton<HookClient>();
        if (hooks.UrlOf(HookKind.Subscribe) is not null) services.AddSingleton<SubscribeHook>();
        if (hooks.UrlOf(HookKind.Publish) is not null) services.AddSingleton<PublishHook>();
        if (hooks.UrlOf(HookKind.Events) is not null)
        {
            services.AddSingleton<HookEvents>();
            services.AddHostedService(provider => provider.GetRequiredService<HookEvents>());
        }
        foreach (var kind in Enum.GetValues<HookKind>())
        {
            if (hooks.UrlOf(kind) is null) continue;
            string name = HookClient.ClientName(kind);
            services.AddHttpClient(name, client =>
                {
                    // The pipeline's timeout governs; HttpClient's own (100 s) would only say it later, in other words.
                    client.Timeout = Timeout.InfiniteTimeSpan;
                    client.MaxResponseContentBufferSize = MaxAnswerBytes;
                })
                // The factory's handlers log every call at Information: one line per stream opened.
                .RemoveAllLoggers()
                .AddResilienceHandler(name, (pipeline, context) =>
                {
                    var metrics = context.ServiceProvider.GetRequiredService<HookMetrics>();
                    // Outside the timeout, so a call that timed out counts as a failure of the backend; the default
                    // predicate counts 5xx, 408, 429, timeouts and connection failures.
                    pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
                    {
                        FailureRatio = 0.5,
                        MinimumThroughput = hooks.BreakAfter,
                        SamplingDuration = TimeSpan.FromSeconds(10),
                        BreakDuration = hooks.BreakFor,
                        OnOpened = _ => Noted(metrics, kind, HookMetrics.BreakerState.Open),
                        OnHalfOpened = _ => Noted(metrics, kind, HookMetrics.BreakerState.HalfOpen),
                        OnClosed = _ => Noted(metrics, kind, HookMetrics.BreakerState.Closed),
                    });
                    pipeline.AddTimeout(hooks.Timeout);
                    // No retry: see HookClient.
                });
        }
        return services;
    }

    private static ValueTask Noted(HookMetrics metrics, HookKind kind, HookMetrics.BreakerState state)
    {
        metrics.Breaker(kind, state);
        return ValueTask.CompletedTask;
    }
}
