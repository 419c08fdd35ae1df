using System.Text.Json;
using System.Text.Json.Serialization;

namespace Repl.Host.Hooks;

/// <summary>Source-generated reading of the hooks' answers (their requests are written with a <see cref="Utf8JsonWriter"/>).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SubscribeAnswer))]
[JsonSerializable(typeof(PublishAnswer))]
[JsonSerializable(typeof(RefusalAnswer))]
internal sealed partial class HooksJsonContext : JsonSerializerContext;
