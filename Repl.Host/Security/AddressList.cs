using System.Net;
using IPNetwork = System.Net.IPNetwork;

namespace Repl.Host.Security;

/// <summary>Settings that list client addresses and networks: <c>Proxy:Trusted</c>, <c>Auth:MetricsAllow</c>.</summary>
internal static class AddressList
{
    /// <summary>Addresses (<c>10.0.0.5</c>, a one-address network) and networks (<c>10.0.0.0/8</c>), comma or space separated.</summary>
    /// <exception cref="InvalidOperationException">An entry is neither; the message names <paramref name="setting"/>.</exception>
    public static IPNetwork[] Parse(string? list, string setting) =>
        [.. CorsOriginsOptions.Split(list).Select(entry =>
        {
            if (entry.Contains('/') && IPNetwork.TryParse(entry, out var network)) return network;
            if (!entry.Contains('/') && IPAddress.TryParse(entry, out var address)) return new IPNetwork(address, address.GetAddressBytes().Length * 8);
            throw new InvalidOperationException($"{setting}: '{entry}' is neither an IP address nor a network like 10.0.0.0/8");
        })];

    /// <summary>Whether <paramref name="address"/> (IPv4 also when mapped into IPv6) is inside one of <paramref name="networks"/>.</summary>
    public static bool Contains(IPNetwork[] networks, IPAddress? address)
    {
        if (address is null) return false;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        foreach (var network in networks)
        {
            if (network.Contains(address)) return true;
        }
        return false;
    }
}
