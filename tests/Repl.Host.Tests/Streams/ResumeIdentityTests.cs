using System.Text.Json;
using Repl.Host.Tests.Infrastructure;

namespace Repl.Host.Tests.Streams;

/// <summary>
/// Stream ids carry the log's epoch (<c>position@epoch</c>); a <c>Last-Event-ID</c> this log never issued — ahead of its
/// head, or from another log — is answered with <c>event: reset</c> and the log from its beginning, never a silent hole.
/// </summary>
public sealed class ResumeIdentityTests
{
    [Fact]
    public async Task Ids_CarryTheLogsEpoch_AsConnectedSaysIt()
    {
        await using var server = await ReplServer.StartAsync();
        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse");
        string epoch = JsonDocument.Parse((await stream.Connected).Data).RootElement.GetProperty("epoch").GetString()!;
        Assert.Matches("^[0-9a-f]{8}$", epoch);
        long id = await server.Client.PublishAsync("demo", "hello");
        var message = await stream.NextNonPingAsync();
        Assert.Equal($"{id}@{epoch}", message.Id);
    }

    [Fact]
    public async Task AnIdOfThisLog_ResumesExactly()
    {
        await using var server = await ReplServer.StartAsync();
        string lastId;
        await using (var first = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse"))
        {
            await server.Client.PublishAsync("demo", "a");
            lastId = (await first.NextNonPingAsync()).Id!;
        }
        long b = await server.Client.PublishAsync("demo", "b");
        await using var resumed = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse", lastEventId: lastId);
        Assert.Equal([b], (await resumed.MessagesAsync(1)).Select(m => m.Id));
    }

    [Fact]
    public async Task AnIdAheadOfTheHead_IsAnsweredReset_ThenTheLogFromItsBeginning()
    {
        await using var server = await ReplServer.StartAsync();
        long a = await server.Client.PublishAsync("demo", "a");
        long b = await server.Client.PublishAsync("demo", "b");

        // The README's own example on a fresh node: 41 was never issued here.
        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse", lastEventId: "41");
        var reset = await stream.NextNonPingAsync();
        Assert.Equal("reset", reset.Type);
        var data = JsonDocument.Parse(reset.Data).RootElement;
        Assert.Equal("41", data.GetProperty("requested").GetString());
        Assert.Equal(0, data.GetProperty("position").GetInt64());
        Assert.Contains("ahead", data.GetProperty("reason").GetString());
        Assert.Equal([a, b], (await stream.MessagesAsync(2)).Select(m => m.Id));
    }

    [Fact]
    public async Task AnIdFromAnotherLog_IsAnsweredReset_EvenWhenItsPositionExistsHere()
    {
        await using var server = await ReplServer.StartAsync();
        long a = await server.Client.PublishAsync("demo", "a");
        long b = await server.Client.PublishAsync("demo", "b");
        string epoch = await EpochAsync(server);
        string other = epoch == "00000001" ? "00000002" : "00000001";

        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse", lastEventId: $"{a}@{other}");
        var reset = await stream.NextNonPingAsync();
        Assert.Equal("reset", reset.Type);
        Assert.Contains("another log", JsonDocument.Parse(reset.Data).RootElement.GetProperty("reason").GetString());
        Assert.Equal([a, b], (await stream.MessagesAsync(2)).Select(m => m.Id));
    }

    [Fact]
    public async Task TheEpoch_SurvivesARestart_AndAWipedDataDirectoryGetsANewOne()
    {
        string dataDir = TempDir.Create();
        string before;
        await using (var server = await ReplServer.StartAsync(dataDir))
        {
            before = await EpochAsync(server);
            await server.StopAsync();
        }
        await using (var again = await ReplServer.StartAsync(dataDir))
        {
            Assert.Equal(before, await EpochAsync(again));
            await again.StopAsync();
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        TempDir.Delete(dataDir);
        await using var wiped = await ReplServer.StartAsync(TempDir.Create());
        Assert.NotEqual(before, await EpochAsync(wiped));
    }

    [Fact]
    public async Task AMalformedId_Is400()
    {
        await using var server = await ReplServer.StartAsync();
        foreach (string id in new[] { "4@", "4@xyz", "@00000001", "4@0000000g", "4@000000011" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/topics/demo/sse");
            request.Headers.TryAddWithoutValidation("Last-Event-ID", id);
            using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        }
    }

    private static async Task<string> EpochAsync(ReplServer server)
    {
        await using var stream = await SseStream.OpenAsync(server.BaseAddress, "/topics/demo/sse");
        return JsonDocument.Parse((await stream.Connected).Data).RootElement.GetProperty("epoch").GetString()!;
    }
}
