using Microsoft.AspNetCore.HttpOverrides;

namespace Repl.Host.Security;

/// <summary>Reverse proxies in front of the node (configuration section <c>Proxy</c>).</summary>
/// <remarks>
/// Behind a proxy every client arrives from the proxy's address, so the per-address limits
/// (<c>Limits:MaxStreamsPerIp</c>, the publish rate without a token) would count all clients as one. From the proxies
/// listed here, and only from them, the client address and scheme are taken from <c>X-Forwarded-For</c> and
/// <c>X-Forwarded-Proto</c>: walking <c>X-Forwarded-For</c> back from the nearest hop while the hop is trusted, so a
/// client cannot pose as another by sending the header itself.
/// </remarks>
public sealed class ProxyOptions
{
    /// <summary>Proxy addresses (<c>10.0.0.5</c>) or networks (<c>10.0.0.0/8</c>), comma or space separated. Empty: forwarded headers are ignored.</summary>
    public string Trusted { get; set; } = "";

    /// <summary>The forwarded-headers settings for <see cref="Trusted"/>; null when no proxy is trusted.</summary>
    /// <exception cref="InvalidOperationException">An entry is neither an address nor a network.</exception>
    internal ForwardedHeadersOptions? ToForwardedHeaders()
    {
        var networks = AddressList.Parse(Trusted, "Proxy:Trusted");
        if (networks.Length == 0) return null;
        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            // No hop limit: the walk stops at the first address that is not a trusted proxy.
            ForwardLimit = null,
        };
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        // An address is a one-address network: ForwardedHeaders checks both lists the same way.
        foreach (var network in networks) options.KnownIPNetworks.Add(network);
        return options;
    }
}
