using System.Text.Json;
using System.Text.Json.Serialization;

namespace Repl.Cli;

internal sealed record CliError(string Error, string Cause, int? Status);

internal sealed record BenchReport(
    string Topic, int Messages, int Subscribers, long Delivered, double PublishSeconds, double TotalSeconds,
    double PublishedPerSecond, double DeliveredPerSecond, double P50Ms, double P90Ms, double P99Ms, double MaxMs);

internal sealed record PublishBody(string Value, Dictionary<string, string> Headers);

internal sealed record StandaloneCluster(string Mode, string Node, string Url);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CliError))]
[JsonSerializable(typeof(BenchReport))]
[JsonSerializable(typeof(StandaloneCluster))]
[JsonSerializable(typeof(PublishBody))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
