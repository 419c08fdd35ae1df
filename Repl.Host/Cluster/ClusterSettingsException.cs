namespace Repl.Host.Cluster;

/// <summary>A setting that cannot work (a seed that is no address, a broker without seeds, a zero interval): the node does not start.</summary>
public sealed class ClusterSettingsException(string message) : Exception(message)
{
    /// <summary>Throws for a time span setting of zero or less; <paramref name="what"/> says what the setting is for.</summary>
    public static void ThrowUnlessPositive(string setting, TimeSpan value, string? what = null)
    {
        if (value <= TimeSpan.Zero)
            throw new ClusterSettingsException($"{setting} is {value}: it must be a positive time span (hh:mm:ss){(what is null ? "" : ", " + what)}");
    }
}
