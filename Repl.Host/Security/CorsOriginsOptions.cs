namespace Repl.Host.Security;

/// <summary>Which browser origins may call the API (configuration section <c>Cors</c>).</summary>
public sealed class CorsOriginsOptions
{
    /// <summary>Origins allowed on GET routes (streams, history, info): <c>*</c> or a comma/space separated list.</summary>
    public string SubscribeOrigins { get; set; } = "*";

    /// <summary>Origins allowed on POST/DELETE routes; empty means same-origin only.</summary>
    public string PublishOrigins { get; set; } = "";

    internal static string[] Split(string? origins) =>
        (origins ?? "").Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
