using System.Text.Json;
using Repl.Actors.Messages;

namespace Repl.Actors.Topics;

/// <summary>
/// The presence events of a stream, framed once per node by its presence reporter; every <c>?presence=1</c> stream of
/// the topic writes the same bytes.
/// </summary>
/// <remarks>None carries an <c>id:</c> line: they are not in the log and never move the client's <c>Last-Event-ID</c>.</remarks>
internal static class PresenceEvents
{
    /// <summary><c>event: join</c> or <c>event: leave</c> with <c>{"topic","client","user"}</c>.</summary>
    public static byte[] Change(string topic, bool joined, string client, string? user) =>
        EventFrame.Of(joined ? "event: join"u8 : "event: leave"u8, writer =>
        {
            writer.WriteString("topic"u8, topic);
            writer.WriteString("client"u8, client);
            if (user is null) writer.WriteNull("user"u8);
            else writer.WriteString("user"u8, user);
        });

    /// <summary><c>event: presence</c> with <c>{"topic","clients","users"}</c>.</summary>
    public static byte[] Counts(string topic, int clients, int users) =>
        EventFrame.Of("event: presence"u8, writer =>
        {
            writer.WriteString("topic"u8, topic);
            writer.WriteNumber("clients"u8, clients);
            writer.WriteNumber("users"u8, users);
        });
}
