using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Repl.Host.Api;
using Repl.Host.Metrics;

namespace Repl.Host.Security;

/// <summary>Wires authorization, limits, CORS and request ids into a node (called from <see cref="ReplHost"/>).</summary>
internal static class SecurityExtensions
{
    public const string SubscribePolicy = "repl-subscribe";
    public const string PublishPolicy = "repl-publish";

    public static void AddReplSecurity(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var configuration = builder.Configuration;
        services.Configure<AuthOptions>(configuration.GetSection("Auth"));
        services.Configure<CorsOriginsOptions>(configuration.GetSection("Cors"));
        services.Configure<ProxyOptions>(configuration.GetSection("Proxy"));
        var auth = configuration.GetSection("Auth").Get<AuthOptions>() ?? new AuthOptions();
        services.AddReplAuth(auth);
        // Auth off: the authentication and authorization middlewares are left out (UseReplSecurity), so the endpoints'
        // policies are never evaluated; routing must not take that for a forgotten middleware.
        if (!auth.Enabled) services.Configure<Microsoft.AspNetCore.Routing.RouteOptions>(routing => routing.SuppressCheckForUnhandledSecurityMetadata = true);
        services.AddSingleton<PublishRateLimiter>();
        services.AddSingleton<StreamSlots>();
        services.AddCors();
        services.AddSingleton<IConfigureOptions<CorsOptions>>(provider => new ConfigureOptions<CorsOptions>(cors =>
        {
            var origins = provider.GetRequiredService<IOptions<CorsOriginsOptions>>().Value;
            cors.AddPolicy(SubscribePolicy, policy => Origins(policy, CorsOriginsOptions.Split(origins.SubscribeOrigins)).WithMethods("GET", "HEAD"));
            cors.AddPolicy(PublishPolicy, policy => Origins(policy, CorsOriginsOptions.Split(origins.PublishOrigins)).WithMethods("POST", "DELETE"));
        }));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            if (configuration.GetSection("Limits").Get<LimitsOptions>()?.MaxConnections is { } max) kestrel.Limits.MaxConcurrentConnections = max;
        });
        // The request id goes into every log line written while a request runs.
        services.Configure<SimpleConsoleFormatterOptions>(console => console.IncludeScopes = true);
    }

    /// <summary>
    /// ASP.NET Core authentication (JwtBearer, or the scheme <c>Auth:Scheme</c> names) and the authorization policies the
    /// routes declare (<see cref="ReplPolicies"/>). With auth off no scheme is registered and every policy succeeds.
    /// </summary>
    private static void AddReplAuth(this IServiceCollection services, AuthOptions auth)
    {
        services.AddSingleton<IAuthorizationHandler, TopicRequirementHandler>();
        services.AddSingleton<MetricsRequirementHandler>();
        services.AddSingleton<IAuthorizationHandler>(provider => provider.GetRequiredService<MetricsRequirementHandler>());
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, AuthorizationResultWriter>();
        // Auth off: no authentication or authorization services at all. WebApplication adds both middlewares by itself
        // when their services are registered, and they would then decide "allowed" on every request (~8 µs of a
        // publish, 11 % of its CPU, in a bench S5 profile). The routes' policies stay declared, and unused.
        if (!auth.Enabled) return;
        services.AddAuthorization(ReplPolicies.Add);
        if (!string.IsNullOrEmpty(auth.JwksUrl))
        {
            services.AddSingleton(provider => new JwksConfigurationManager(auth.JwksUrl, auth.JwksRefresh,
                provider.GetRequiredService<ILoggerFactory>().CreateLogger<JwksConfigurationManager>()));
        }
        services.AddSingleton<ReplJwtBearerEvents>();
        // Bearer, configured by the key settings (and Authentication:Schemes:Bearer if present); another name, configured
        // from Authentication:Schemes:<name> only, the standard section (Authority, ValidAudiences, SigningKeys, ...).
        services.AddAuthentication(auth.SchemeName).AddJwtBearer(auth.SchemeName, _ => { });
        // After AddJwtBearer, so it runs after ASP.NET Core's binding of Authentication:Schemes:<name>.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<JwtBearerOptions>, ConfigureJwtBearer>());
    }

    /// <summary>First in the pipeline: the client's address and scheme from a trusted proxy's forwarded headers (<see cref="ProxyOptions"/>).</summary>
    public static void UseReplProxies(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<ProxyOptions>>().Value.ToForwardedHeaders() is { } forwarded) app.UseForwardedHeaders(forwarded);
    }

    /// <summary>Next: request id, logging scope, responses by status class.</summary>
    public static void UseReplObservability(this WebApplication app) => app.UseMiddleware<RequestIdMiddleware>();

    /// <summary>Just before the routes: CORS (subscribe policy on reads, publish policy on writes), authentication, authorization, limits.</summary>
    public static void UseReplSecurity(this WebApplication app)
    {
        // Fail at start, not on the first request, when a key, the key set URL or Auth:MetricsAllow is unusable.
        var auth = app.Services.GetRequiredService<IOptions<AuthOptions>>().Value;
        if (auth.Enabled) _ = app.Services.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(auth.SchemeName);
        _ = app.Services.GetRequiredService<MetricsRequirementHandler>();
        // Only cross-origin requests (with an Origin header) go through CORS: the middleware does nothing for the
        // others, but resolving its policy provider would open a service scope per request.
        app.UseWhen(context => IsCrossOrigin(context) && IsRead(context), branch => branch.UseCors(SubscribePolicy));
        app.UseWhen(context => IsCrossOrigin(context) && !IsRead(context), branch => branch.UseCors(PublishPolicy));
        // Auth off means every route is open: the two middlewares would only find that out again on every request
        // (~8 µs of a publish in a bench S5 profile, 11 % of its CPU).
        if (auth.Enabled)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }
        app.UseMiddleware<LimitsMiddleware>();
    }

    private static bool IsCrossOrigin(HttpContext context) => context.Request.Headers.Origin.Count > 0;

    /// <summary>A read, or the preflight of one (its method is in <c>Access-Control-Request-Method</c>).</summary>
    private static bool IsRead(HttpContext context)
    {
        var request = context.Request;
        string method = HttpMethods.IsOptions(request.Method) && request.Headers.AccessControlRequestMethod.ToString() is { Length: > 0 } requested ? requested : request.Method;
        return HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
    }

    private static CorsPolicyBuilder Origins(CorsPolicyBuilder policy, string[] origins)
    {
        policy.AllowAnyHeader().WithExposedHeaders("Retry-After", RequestIdMiddleware.Header, "WWW-Authenticate").SetPreflightMaxAge(TimeSpan.FromHours(1));
        if (origins.Contains("*")) return policy.AllowAnyOrigin();
        // Listed origins may send the token cookie.
        return origins.Length == 0 ? policy : policy.WithOrigins(origins).AllowCredentials();
    }
}
