using System.Text;
using System.Text.Json;
using Repl.Actors.Messages;
using Repl.Actors.Topics;
using Repl.Sse;

namespace Repl.Actors.Tests.Messages;

public sealed class EventFrameTests
{
    public static TheoryData<string, byte[]> Events(string text) => new()
    {
        { "join", PresenceEvents.Change("t", joined: true, "c1", text) },
        { "leave", PresenceEvents.Change("t", joined: false, "c1", text) },
        { "disconnect", SseEvents.Closing("disconnect", text) },
        { "reset", SseEvents.Reset(text, text, "0000abcd", 0) },
    };

    public static TheoryData<string, byte[]> Unusual => Events("João ✓ \"quoted\"\nline\r\ndata: injected\n\nid: 9");

    [Theory]
    [MemberData(nameof(Unusual))]
    public void ControlAndPresenceEvents_AreOneDataLine_WithNoId_AndTextAsWritten(string name, byte[] frame)
    {
        var text = Encoding.UTF8.GetString(frame);
        var lines = text.Split('\n');

        // event, data, then the blank line: whatever a user name or reason holds, it starts no field or event.
        Assert.Equal([$"event: {name}", "", ""], [lines[0], lines[^2], lines[^1]]);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("data: ", lines[1]);
        Assert.DoesNotContain('\r', text);
        Assert.DoesNotContain("id:", lines[0] + lines[^2]);
        // Non-ASCII as written (as a message's JSON is), not \u00E3: the bytes are the text's.
        Assert.Contains("João ✓", lines[1]);
        Assert.DoesNotContain("\\u00E3", lines[1]);
        JsonDocument.Parse(lines[1]["data: ".Length..]);
    }
}
