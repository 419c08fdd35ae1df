using System.Text.Json;
using System.Text.Json.Serialization;

namespace Repl.Host.Contract;

/// <summary>An error as every route returns it.</summary>
public sealed record ErrorBody(string Error, string Cause);

public sealed record MessageBody(string Message);

public sealed record CreateTopicRequest(string? Name);

public sealed record TopicInfo(string Name, int Subscribers, long Messages, long FirstPosition, long LastPosition, long Created, long TrimmedThrough, bool Active,
    TopicSettingsBody Settings);

/// <summary>A topic's own settings as the API shows them; a null is the node's setting.</summary>
/// <param name="PublishRate">Publishes per second, cluster-wide.</param>
/// <param name="Presence">Presence tracked on the topic; null: the node's <c>Topics:Presence</c>.</param>
public sealed record TopicSettingsBody(RetentionBody Retention, long? MaxMessageBytes, double? PublishRate, bool? Presence);

/// <param name="MaxMessages">Messages kept (0: all); null: <c>Journal:MaxMessagesPerTopic</c>.</param>
/// <param name="MaxAge">Age kept, as <c>d.hh:mm:ss</c> (zero: all); null: <c>Journal:MaxAge</c>.</param>
public sealed record RetentionBody(long? MaxMessages, string? MaxAge);

/// <summary>The answer to <c>PATCH /topics/{name}</c>: the topic's settings once the change is applied on the node that answers.</summary>
public sealed record TopicSettingsChanged(string Message, string Topic, TopicSettingsBody Settings);

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
[JsonSerializable(typeof(TopicSettingsChanged))]
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
