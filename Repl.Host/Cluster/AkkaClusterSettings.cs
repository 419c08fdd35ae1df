using System.Globalization;
using Akka.Actor;

namespace Repl.Host.Cluster;

/// <summary>
/// Where this node's Akka remoting listens and which seeds it joins, from petabridge/lighthouse's conventions
/// (<c>ACTORSYSTEM</c>, <c>CLUSTER_IP</c>, <c>CLUSTER_PORT</c>, <c>CLUSTER_SEEDS</c>) or their settings
/// (<c>--cluster-ip</c>, <c>--cluster-port</c>, <c>--seeds</c>, <c>--cluster-bind-ip</c>; <c>Cluster:Ip</c> ...), which win.
/// </summary>
/// <remarks>
/// <para>A lighthouse listens on 4053 by default and adds its own address to the seeds. A broker listens on a free
/// port by default (several start side by side with no setting); in cluster mode it needs seeds, and refuses to start
/// without any: a broker that formed a cluster of its own would own every topic entity (and, once the sequencer is a
/// singleton, run a second sequencer) beside the real cluster. A one-broker cluster names itself as its seed.</para>
/// <para>Standalone ignores none of this silently: it is a one-node cluster of itself on loopback, and refuses seeds.</para>
/// </remarks>
/// <param name="Hostname">The address remoting binds to (<c>Cluster:BindIp</c>, default <see cref="PublicHostname"/>).</param>
/// <param name="PublicHostname">The hostname other members reach this node at (<c>CLUSTER_IP</c>, default 127.0.0.1).</param>
/// <param name="Port">Remoting's port (<c>CLUSTER_PORT</c>; 0: a free one).</param>
internal sealed record AkkaClusterSettings(string Role, string Hostname, string PublicHostname, int Port, IReadOnlyList<string> Seeds)
{
    public const string SystemName = "repl";
    public const string BrokerRole = "broker";
    public const string LighthouseRole = "lighthouse";
    public const int LighthousePort = 4053;

    public bool IsLighthouse => Role == LighthouseRole;

    /// <summary>This node's own address as a seed (<c>akka.tcp://repl@host:port</c>); only meaningful with a fixed port.</summary>
    public string SelfAddress => $"akka.tcp://{SystemName}@{PublicHostname}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The role asked for (<c>--role</c>, <c>Node:Role</c>): <c>broker</c> unless <c>lighthouse</c>.</summary>
    public static string RoleOf(IConfiguration configuration) => configuration["Node:Role"] is { Length: > 0 } role ? role.Trim().ToLowerInvariant() : BrokerRole;

    /// <exception cref="SettingsException">A setting is wrong, said in one line.</exception>
    public static AkkaClusterSettings From(IConfiguration configuration, bool clusterMode)
    {
        string role = RoleOf(configuration);
        if (role is not (BrokerRole or LighthouseRole)) throw new SettingsException($"--role '{role}': expected '{BrokerRole}' or '{LighthouseRole}'");
        if (configuration["ACTORSYSTEM"] is { Length: > 0 } system && system != SystemName)
        {
            throw new SettingsException($"ACTORSYSTEM is '{system}', but Repl's actor system is '{SystemName}': every seed address must read akka.tcp://{SystemName}@host:port");
        }
        string? ip = Setting(configuration, "Cluster:Ip", "CLUSTER_IP");
        string? portText = Setting(configuration, "Cluster:Port", "CLUSTER_PORT");
        string? seedsText = Setting(configuration, "Cluster:Seeds", "CLUSTER_SEEDS");
        string? bindIp = configuration["Cluster:BindIp"] is { Length: > 0 } bind ? bind.Trim() : null;
        bool lighthouse = role == LighthouseRole;
        if (!clusterMode && !lighthouse)
        {
            if (seedsText is not null || ip is not null || portText is not null)
            {
                throw new SettingsException("CLUSTER_SEEDS/CLUSTER_IP/CLUSTER_PORT (--seeds, --cluster-ip, --cluster-port) are for cluster mode: set Cluster:Etcd (--etcd) too, or unset them for a standalone node");
            }
            // Standalone, as always: loopback and a free port, a one-node cluster of itself.
            return new AkkaClusterSettings(BrokerRole, "127.0.0.1", "127.0.0.1", 0, []);
        }

        int port = lighthouse ? LighthousePort : 0;
        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535))
        {
            throw new SettingsException($"CLUSTER_PORT '{portText}' is not a port number");
        }
        string publicHostname = ip ?? "127.0.0.1";
        var seeds = new List<string>();
        foreach (string seed in (seedsText ?? "").Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!TryParseSeed(seed, out var address)) throw new SettingsException($"CLUSTER_SEEDS: '{seed}' is not an address akka.tcp://{SystemName}@host:port");
            if (address.System != SystemName) throw new SettingsException($"CLUSTER_SEEDS: '{seed}' names actor system '{address.System}', but Repl's is '{SystemName}'");
            if (!seeds.Contains(address.ToString())) seeds.Add(address.ToString());
        }
        var settings = new AkkaClusterSettings(role, bindIp ?? publicHostname, publicHostname, port, seeds);
        if (lighthouse)
        {
            if (port == 0) throw new SettingsException("a lighthouse needs a fixed CLUSTER_PORT (default 4053): brokers reach it by address");
            // Lighthouse's convention: a lighthouse is one of the seeds, so the first seed can form the cluster.
            if (!seeds.Contains(settings.SelfAddress)) seeds.Add(settings.SelfAddress);
        }
        else if (seeds.Count == 0)
        {
            throw new SettingsException(
                "a broker in cluster mode needs seeds: set CLUSTER_SEEDS (--seeds) to the lighthouses, e.g. akka.tcp://repl@127.0.0.1:4053 " +
                "(a one-broker cluster names itself, with a fixed CLUSTER_PORT)");
        }
        return settings;
    }

    private static string? Setting(IConfiguration configuration, string key, string environment) =>
        configuration[key] is { Length: > 0 } value ? value.Trim() : configuration[environment] is { Length: > 0 } env ? env.Trim() : null;

    private static bool TryParseSeed(string text, out Address address)
    {
        address = Address.AllSystems;
        try
        {
            address = Address.Parse(text);
            return address.Host is { Length: > 0 } && address.Port is > 0 && address.Protocol == "akka.tcp";
        }
        catch (Exception error) when (error is UriFormatException or ArgumentException or FormatException)
        {
            return false;
        }
    }
}
