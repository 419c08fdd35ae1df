using Repl.Actors.Log;
using Repl.Actors.Messages;

namespace Repl.Actors.Tests.Log;

public sealed class LogEventTests
{
    private static readonly byte[] Body = MessageJson.EncodeBody("t", "v", [], DateTimeOffset.UnixEpoch);

    [Fact]
    public void MessageAt_ItsPosition_IsTheMessageTheSequencerBuilt()
    {
        var message = MessageJson.WithId(7, Body);
        var e = new LogEvent(LogEntryKind.Publish, "t", Body, 0) { Message = message };
        Assert.Same(message, e.MessageAt(7));
    }

    [Fact]
    public void MessageAt_AnotherPosition_IsBuiltForThatPosition_NeverStoredWithTheWrongId()
    {
        var e = new LogEvent(LogEntryKind.Publish, "t", Body, 0) { Message = MessageJson.WithId(7, Body) };
        Assert.Equal(MessageJson.WithId(8, Body), e.MessageAt(8));
        Assert.Equal(MessageJson.WithId(9, Body), new LogEvent(LogEntryKind.Publish, "t", Body, 0).MessageAt(9));
    }

    [Fact]
    public void MessageAt_ATopicChange_IsEmpty() =>
        Assert.Empty(new LogEvent(LogEntryKind.CreateTopic, "t", [], 0).MessageAt(3));
}
