// The "Kestrel floor" for bench S5 (bench/README.md): the cheapest server that answers the load program's publish
// the way Repl does. Kestrel on sockets with the settings Repl runs with, one request delegate, no routing, no
// journal, no JSON parsing: it reads the whole body and writes a fixed 201 of about the size of Repl's answer.
// Its acknowledged publishes/s is what Kestrel and the kernel's loopback TCP allow per request on this machine,
// measured in the same sitting as Repl, so S5's figure can be read against it rather than against the 60k.
//
//   KestrelFloor --urls http://127.0.0.1:9300
//
// GET /health 200, POST /topics 201 (topic create; any body), POST /topics/{topic} 201, anything else 404.
//
// It is also the instant hook of `bench/run.sh --hooks`: POST /hook (any body) answers 200 {"allow":true} at once,
// checking nothing (not even the signature), so a hooked node's figures are what the hook costs the node itself.

using System.Buffers;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
// As Repl.Host/appsettings.json: while this category is enabled at any level, hosting makes an Activity and a
// log scope per request.
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
// Repl's default (NodeOptions.InlineScheduling): a flush sends on the flushing thread.
builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);

var app = builder.Build();
app.Run(context =>
{
    var request = context.Request;
    if (HttpMethods.IsPost(request.Method) && request.Path.StartsWithSegments("/topics", out var rest))
    {
        if (!rest.HasValue) return DrainAndAnswerAsync(context, StatusCodes.Status201Created, Answers.TopicCreated);
        if (rest.Value!.IndexOf('/', 1) < 0) return DrainAndAnswerAsync(context, StatusCodes.Status201Created, Answers.Published);
    }
    else if (HttpMethods.IsPost(request.Method) && request.Path == "/hook")
    {
        return DrainAndAnswerAsync(context, StatusCodes.Status200OK, Answers.Allow);
    }
    else if (HttpMethods.IsGet(request.Method) && request.Path == "/health")
    {
        return DrainAndAnswerAsync(context, StatusCodes.Status200OK, Answers.Health);
    }
    context.Response.StatusCode = StatusCodes.Status404NotFound;
    return Task.CompletedTask;
});
app.Run();

// Reads the whole request body as Repl's publish does (PublishInput.ReadBodyAsync), then one buffered write with a
// Content-Length (as Repl's RawJson).
static async Task DrainAndAnswerAsync(HttpContext context, int status, byte[] json)
{
    var reader = context.Request.BodyReader;
    while (true)
    {
        var read = await reader.ReadAsync(context.RequestAborted);
        if (read.IsCompleted)
        {
            reader.AdvanceTo(read.Buffer.End);
            break;
        }
        reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
    }
    var response = context.Response;
    response.StatusCode = status;
    response.ContentType = "application/json; charset=utf-8";
    response.ContentLength = json.Length;
    response.BodyWriter.Write(json);
    await response.BodyWriter.FlushAsync(context.RequestAborted);
}

internal static class Answers
{
    public static readonly byte[] Health = """{"status":"up","node":"kestrel-floor"}"""u8.ToArray();

    /// <summary>A hook's yes, to a subscribe hook and a publish hook (and a batch) alike.</summary>
    public static readonly byte[] Allow = """{"allow":true}"""u8.ToArray();

    public static readonly byte[] TopicCreated = """{"message":"topic created"}"""u8.ToArray();

    /// <summary>Shaped like Repl's answer to the load program's publish: the message echoed, its 60-byte value included.</summary>
    public static readonly byte[] Published =
        """{"message":"message published","data":{"id":"1","topic":"bench","value":"0000000000000000000-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","headers":{},"createdAt":"2026-12-01T09:00:00.0000000Z"}}"""u8.ToArray();
}
