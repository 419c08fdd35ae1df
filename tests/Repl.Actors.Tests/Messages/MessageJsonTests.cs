using System.Text;
using System.Text.Json;
using Repl.Actors.Messages;

namespace Repl.Actors.Tests.Messages;

public sealed class MessageJsonTests
{
    [Theory]
    [InlineData("plain")]
    [InlineData("line\nbreak")]
    [InlineData("carriage\rreturn\r\n")]
    [InlineData("data: injected\n\nid: 999\n\n")]
    [InlineData("unicode ✓ \u2028 \u0000 \"quotes\"")]
    public void Frame_IsOneEvent_WhateverTheValueHolds(string value)
    {
        var body = MessageJson.EncodeBody("comments:42", value, [new("h\n", "v\r")], DateTimeOffset.UnixEpoch);
        var json = MessageJson.WithId(42, body);
        var frame = Encoding.UTF8.GetString(MessageJson.Frame(42, "0000abcd"u8, json));

        // Exactly two lines then the blank line: the value can never start a new field or event.
        var lines = frame.Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.Equal("id: 42@0000abcd", lines[0]);
        Assert.StartsWith("data: ", lines[1]);
        Assert.DoesNotContain('\r', frame);
        Assert.Equal(["", ""], lines[2..]);

        var message = JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement;
        Assert.Equal("42", message.GetProperty("id").GetString());
        Assert.Equal("comments:42", message.GetProperty("topic").GetString());
        Assert.Equal(value, message.GetProperty("value").GetString());
        Assert.Equal("v\r", message.GetProperty("headers").GetProperty("h\n").GetString());
        Assert.Equal(DateTimeOffset.UnixEpoch, message.GetProperty("createdAt").GetDateTimeOffset());
    }

    [Fact]
    public void WithId_PutsTheIdFirst()
    {
        var body = MessageJson.EncodeBody("t", "v", [], DateTimeOffset.UnixEpoch);
        var json = Encoding.UTF8.GetString(MessageJson.WithId(long.MaxValue, body));
        Assert.StartsWith("{\"id\":\"9223372036854775807\",\"topic\":\"t\"", json);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(42L)]
    [InlineData(long.MaxValue)]
    public void IdPrefix_ThenTheBodyAfterItsBrace_IsTheMessageWithId(long position)
    {
        var body = MessageJson.EncodeBody("t", "ação", [new("h", "v")], DateTimeOffset.UnixEpoch);
        Span<byte> prefix = stackalloc byte[MessageJson.MaxIdPrefixLength];
        int length = MessageJson.WriteIdPrefix(position, prefix);
        byte[] parts = [.. prefix[..length], .. body.AsSpan(1)];
        Assert.Equal(MessageJson.WithId(position, body), parts);
    }

    [Fact]
    public void HasId_IsTrueForItsOwnPositionOnly()
    {
        var json = MessageJson.WithId(42, MessageJson.EncodeBody("t", "v", [], DateTimeOffset.UnixEpoch));
        Assert.True(MessageJson.HasId(json, 42));
        Assert.False(MessageJson.HasId(json, 4));
        Assert.False(MessageJson.HasId(json, 420));
        Assert.False(MessageJson.HasId(json, 43));
    }

    [Fact]
    public void Text_ReadsAsWritten_NonAsciiIncluded_ControlCharactersStillEscaped()
    {
        var body = MessageJson.EncodeBody("votos", "ação <b>&'+ 中文\u0007\n", [new("país", "São Paulo")], DateTimeOffset.UnixEpoch);
        var json = Encoding.UTF8.GetString(body);

        // Before: "a\u00E7\u00E3o \u003Cb\u003E\u0026\u0027\u002B \u4E2D\u6587": every non-ASCII character six bytes.
        Assert.Contains("\"value\":\"ação <b>&'+ 中文\\u0007\\n\"", json);
        Assert.Contains("\"país\":\"São Paulo\"", json);
    }
}
