using System.Text.Json;
using System.Text.Json.Serialization;

namespace Repl.Host.Lighthouse;

/// <summary>A lighthouse's <c>/healthz</c> and <c>/readyz</c> body.</summary>
public sealed record LighthouseHealth(string Status, string Role = "lighthouse");

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(LighthouseHealth))]
internal sealed partial class LighthouseJsonContext : JsonSerializerContext;
