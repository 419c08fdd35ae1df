using System.Text.Json;
using System.Text.Json.Serialization;

namespace Repl.Host.Contract;

/// <summary>An error as every route returns it.</summary>
public sealed record ErrorBody(string Error, string Cause);

public sealed record MessageBody(string Message);

public sealed record CreateTopicRequest(string? Name);

public sealed record TopicInfo(string Name, int Subscribers, long Messages, long FirstPosition, long LastPosition, long Created, long TrimmedThrough, bool Active);

/// <summary>One client of a topic: <c>since</c> is when its stream opened.</summary>
public sealed record PresenceClient(string Client, string? User, string Node, DateTime Since);

/// <summary>A page of a topic's clients by client id, and how many it has in all.</summary>
public sealed record PresencePage(string Topic, PresenceClient[] Clients, int Total);

/// <summary>A topic's clients and distinct users (clients without a user are not counted among users).</summary>
public sealed record PresenceStats(string Topic, int Clients, int Users);

public sealed record HealthBody(string Status, string Mode, string Node, int Topics, long Position, long Streams);

/// <summary><c>POST /broadcast</c>'s answer: one message id per topic, in the order of the request's topics.</summary>
public sealed record BroadcastBody(string Message, string[] Ids);

/// <summary><c>POST /disconnect</c>'s body, each field checked by the route for a clear error.</summary>
public sealed record DisconnectRequest(JsonElement User, JsonElement Reason, JsonElement For);

/// <summary>What a server API call reached: streams told, brokers that answered, brokers asked.</summary>
public sealed record ReachedBody(string Message, int Streams, int Nodes, int Asked);

/// <summary>Source-generated serialization for the API's fixed shapes (messages themselves are pre-encoded bytes).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(MessageBody))]
[JsonSerializable(typeof(CreateTopicRequest))]
[JsonSerializable(typeof(TopicInfo))]
[JsonSerializable(typeof(HealthBody))]
[JsonSerializable(typeof(BroadcastBody))]
[JsonSerializable(typeof(DisconnectRequest))]
[JsonSerializable(typeof(ReachedBody))]
[JsonSerializable(typeof(PresencePage))]
[JsonSerializable(typeof(PresenceStats))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
