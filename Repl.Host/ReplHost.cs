using Microsoft.Extensions.Options;
using Repl.Actors.Log;
using Repl.Actors.Sequencer;
using Repl.Actors.Storage;
using Repl.Actors.Topics;
using Repl.Host.Api;
using Repl.Host.Contract;
using Repl.Host.Hooks;
using Repl.Host.Metrics;
using Repl.Host.Node;
using Repl.Host.Security;
using Repl.Sse;

namespace Repl.Host;

/// <summary>Builds a Repl node: configuration, services, routes.</summary>
public static class ReplHost
{
    public const string DefaultUrl = "http://localhost:9000";

    /// <summary>Short command-line switches for the common settings (any setting also works as <c>--Section:Key value</c>).</summary>
    private static readonly Dictionary<string, string> Switches = new()
    {
        ["--data-dir"] = "Journal:DataDir",
        ["--node-id"] = "Node:Id",
        ["--port"] = "Node:Port",
        ["--etcd"] = "Cluster:Etcd",
        ["--advertise-url"] = "Cluster:AdvertiseUrl",
        ["--role"] = "Node:Role",
        // petabridge/lighthouse's CLUSTER_IP, CLUSTER_PORT, CLUSTER_SEEDS (see Cluster.AkkaClusterSettings).
        ["--cluster-ip"] = "Cluster:Ip",
        ["--cluster-port"] = "Cluster:Port",
        ["--cluster-bind-ip"] = "Cluster:BindIp",
        ["--seeds"] = "Cluster:Seeds",
    };

    /// <summary>
    /// The node the arguments ask for: a broker (<see cref="Build"/>: standalone, or cluster mode with <c>--etcd</c>) or,
    /// with <c>--role lighthouse</c>, a lighthouse (a seed-only member of the Akka cluster).
    /// </summary>
    /// <exception cref="SettingsException">A setting cannot work; the message says which.</exception>
    public static IHost Create(string[] args) =>
        Cluster.AkkaClusterSettings.RoleOf(Configuration(args)) == Cluster.AkkaClusterSettings.LighthouseRole ? Lighthouse.LighthouseHost.Build(Normalize(args)) : Build(args);

    /// <summary>Environment and command line (with the switches), enough to tell the role before a host is built.</summary>
    internal static IConfiguration Configuration(string[] args) =>
        new ConfigurationBuilder().AddEnvironmentVariables().AddEnvironmentVariables("ASPNETCORE_").AddCommandLine(Normalize(args), Switches).Build();

    internal static void AddSwitches(IConfigurationManager configuration, string[] args) => configuration.AddCommandLine(Normalize(args), Switches);

    /// <summary>A broker node (standalone or cluster); see <see cref="Create"/> for any role.</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = Normalize(args), ContentRootPath = AppContext.BaseDirectory });
        var configuration = builder.Configuration;
        // --config FILE: a role file from hocon/ (JSON). It goes before environment and command line, which still win.
        if (configuration["config"] is { Length: > 0 } file)
        {
            var sources = configuration.Sources;
            int index = sources.Select((source, i) => (source, i)).FirstOrDefault(pair => pair.source is Microsoft.Extensions.Configuration.EnvironmentVariables.EnvironmentVariablesConfigurationSource).i;
            var role = new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource { Path = Path.GetFullPath(file), Optional = false, ReloadOnChange = false };
            // Resolve before inserting: the configuration manager loads the source at once, and would give it the content root's provider.
            role.ResolveFileProvider();
            sources.Insert(index, role);
        }
        builder.Configuration.AddCommandLine(Normalize(args), Switches);
        if (configuration["urls"] is null && configuration["ASPNETCORE_URLS"] is null)
        {
            builder.WebHost.UseUrls(configuration["Node:Port"] is { } port ? $"http://localhost:{port}" : DefaultUrl);
        }

        var services = builder.Services;
        services.Configure<NodeOptions>(configuration.GetSection("Node"));
        services.Configure<JournalOptions>(configuration.GetSection("Journal"));
        // The journal keeps idempotency keys for the sequencer's window (it rebuilds its window from them).
        services.PostConfigure<JournalOptions>(journal =>
            journal.IdempotencyWindow = (configuration.GetSection("Sequencer").Get<SequencerOptions>() ?? new SequencerOptions()).IdempotencyWindow);
        services.Configure<TopicsOptions>(configuration.GetSection("Topics"));
        services.Configure<SequencerOptions>(configuration.GetSection("Sequencer"));
        services.Configure<SseOptions>(configuration.GetSection("Sse"));
        services.Configure<LimitsOptions>(configuration.GetSection("Limits"));
        services.Configure<Repl.Host.Cluster.ClusterOptions>(configuration.GetSection("Cluster"));
        services.AddSingleton(provider => provider.GetRequiredService<IOptions<LimitsOptions>>().Value);
        services.AddSingleton(TimeProvider.System);
        services.AddReplActorSystem(configuration);
        services.AddSingleton<SseCounters>();
        services.AddSingleton<SseStreams>();
        services.AddSingleton<ReplNode>();
        services.AddSingleton<NodePresence>();
        services.AddHostedService<NodeStart>();
        // Cluster mode: Kestrel starts beside the node rather than after it. The node's start (NodeStart) waits until it
        // is an Up member (for its seeds, possibly long), and meanwhile /readyz must answer 503 at once, not refuse
        // connections. The host's start still completes only once every service, the node's start included, has
        // completed. (Standalone joins itself at once and keeps the sequential start.)
        if (!string.IsNullOrWhiteSpace(configuration["Cluster:Etcd"])) services.Configure<HostOptions>(host => host.ServicesStartConcurrently = true);
        services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.TypeInfoResolverChain.Insert(0, ApiJsonContext.Default);
            // As the messages themselves (MessageJson): non-ASCII text as it is, control characters escaped.
            json.SerializerOptions.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        });
        // NodeOptions.InlineScheduling: with it the streams' thread (Repl.Sse.SseStreams) does a stream's whole write round,
        // the send included, without a thread hop (bench/README.md: S2 1.4M → 3.7M deliveries/s).
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = configuration.GetValue("Node:InlineScheduling", new NodeOptions().InlineScheduling));
        builder.WebHost.ConfigureKestrel(kestrel => (configuration.GetSection("Limits").Get<LimitsOptions>() ?? new LimitsOptions()).ApplyTo(kestrel.Limits));
        builder.Logging.AddSimpleConsole(console => console.SingleLine = true);
        builder.AddReplSecurity();
        services.AddReplHooks(configuration);
        builder.AddReplTelemetry();

        var app = builder.Build();
        app.UseReplProxies();
        app.UseReplObservability();
        app.UseReplErrors(app.Services.GetRequiredService<LimitsOptions>());
        app.UseDefaultFiles();
        // The JS client (/client/repl-client.js) is an ES module: a page on another origin imports it in CORS mode (a
        // module script is fetched as fetch() fetches, not as a classic <script>), and without this header Chromium
        // refuses it. It is public code, fetched without credentials, so any origin will do. Pages need no such header.
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = file =>
            {
                if (file.Context.Request.Path.StartsWithSegments("/client")) file.Context.Response.Headers.AccessControlAllowOrigin = "*";
            },
        });
        app.UseReplSecurity();
        TopicEndpoints.Map(app);
        StreamEndpoints.Map(app);
        ServerEndpoints.Map(app);
        PresenceEndpoints.Map(app);
        HealthEndpoints.Map(app);
        Repl.Host.Api.ClusterEndpoints.Map(app);
        app.MapReplMetrics(ReplPolicies.Metrics);
        return app;
    }

    /// <summary>Turns bare flags into settings: <c>--in-memory</c> → <c>--Journal:InMemory=true</c>.</summary>
    private static string[] Normalize(string[] args) =>
        [.. args.Select(arg => arg switch
        {
            "--in-memory" => "--Journal:InMemory=true",
            _ => arg,
        })];
}
