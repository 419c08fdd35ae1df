using Repl.Actors.Log;
using Repl.Actors.Messages;

namespace Repl.Cluster.Tests.Infrastructure;

/// <summary>Publishes as the HTTP side hands them to a log.</summary>
public static class LogCommands
{
    public static PublishCommand Publish(string topic, string value, string? key = null) =>
        new(topic, MessageJson.EncodeBody(topic, value, [], DateTimeOffset.UtcNow), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Key: key);
}
