namespace Repl.Host;

/// <summary>
/// A setting that cannot work (a seed that is no address, a broker without seeds, a zero interval, a hook URL that is
/// no URL, a short hook secret): the node does not start. Its message is the one line the node prints before it exits
/// with code 2.
/// </summary>
public sealed class SettingsException(string message) : Exception(message)
{
    /// <summary>Throws for a time span setting of zero or less; <paramref name="what"/> says what the setting is for.</summary>
    public static void ThrowUnlessPositive(string setting, TimeSpan value, string? what = null)
    {
        if (value <= TimeSpan.Zero)
            throw new SettingsException($"{setting} is {value}: it must be a positive time span (hh:mm:ss){(what is null ? "" : ", " + what)}");
    }
}
