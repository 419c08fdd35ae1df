using System.CommandLine;
using System.Globalization;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Repl.Cli.Api;
using Spectre.Console;

namespace Repl.Cli.Commands;

/// <summary><c>repl tail TOPIC [--from ID] [--count N] [--timeout S]</c>: follows a topic's stream until Ctrl+C or a bound.</summary>
/// <remarks>
/// Resumes with <c>Last-Event-ID</c> after a dropped connection or a node restart, so nothing is skipped or shown twice;
/// a resume point the node no longer holds is shown as a gap, one its log never issued (a wiped or replaced log, or
/// <c>--from</c> ahead of the head) as a reset, after which the log is shown from its beginning. With <c>--json</c>
/// every line is one JSON document: the message as the node sent it, or <c>{"event":"gap"|"reset"|...,...}</c>. The stream
/// ends, exit 1, on <c>deleted</c>, <c>unsubscribed</c>, <c>disconnect</c> (the server API) and <c>expired</c> (the token):
/// reconnecting would subscribe again against the server's intent, or fail. On <c>unavailable</c> it reconnects.
/// </remarks>
internal static class TailCommand
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    public static Command Create(ReplCli cli)
    {
        var topic = new Argument<string>("topic") { Description = "The topic to follow" };
        var from = new Option<long?>("--from") { Description = "Resume after this message id (0 = from the oldest retained message)" };
        var count = new Option<int?>("--count", "-n") { Description = "Exit 0 after this many messages" };
        var timeout = new Option<double?>("--timeout") { Description = $"Stop after this many seconds (exit 0, or {ExitCodes.TimedOut} if --count was not reached)" };
        var command = new Command("tail", "Stream a topic's messages until Ctrl+C (or --count / --timeout)") { topic, from, count, timeout };
        command.SetAction((parsed, cancellation) => cli.RunAsync(parsed, cancellation, context =>
            TailAsync(context, parsed.GetValue(topic)!, parsed.GetValue(from), parsed.GetValue(count), parsed.GetValue(timeout))));
        return command;
    }

    private static async Task<int> TailAsync(CommandContext context, string topic, long? from, int? count, double? timeoutSeconds)
    {
        // Checked here rather than in a command validator, which throws on values that did not parse.
        if (count is <= 0) throw new UsageException("--count must be at least 1");
        if (timeoutSeconds is <= 0) throw new UsageException("--timeout must be a positive number of seconds");
        if (from is < 0) throw new UsageException("--from must be a message id ≥ 0");
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(context.Cancellation);
        if (timeoutSeconds is { } seconds) bound.CancelAfter(TimeSpan.FromSeconds(seconds));
        var output = context.Output;
        // The last stream id seen, sent back as it came (position@epoch), so the node can tell a log that was replaced.
        string? last = from?.ToString(CultureInfo.InvariantCulture);
        int received = 0;
        bool everConnected = false;
        var backoff = TimeSpan.FromMilliseconds(250);
        try
        {
            while (true)
            {
                HttpResponseMessage response;
                try
                {
                    response = await context.Api.OpenStreamAsync(ReplApi.TopicPath(topic, "/sse"), last, bound.Token).ConfigureAwait(false);
                }
                catch (NodeUnreachableException unreachable) when (everConnected)
                {
                    output.Note($"[yellow]reconnecting[/] to {Markup.Escape(unreachable.Url.ToString())} ({Markup.Escape(unreachable.Reason)})");
                    await Task.Delay(backoff, bound.Token).ConfigureAwait(false);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                    continue;
                }
                everConnected = true;
                using (response)
                {
                    try
                    {
                        await using var stream = await response.Content.ReadAsStreamAsync(bound.Token).ConfigureAwait(false);
                        await foreach (var sse in SseParser.Create(stream).EnumerateAsync(bound.Token).ConfigureAwait(false))
                        {
                            switch (sse.EventType)
                            {
                                case "message":
                                    if (!string.IsNullOrEmpty(sse.EventId)) last = sse.EventId;
                                    WriteMessage(output, sse.Data);
                                    backoff = TimeSpan.FromMilliseconds(250);
                                    if (++received == count) return ExitCodes.Ok;
                                    break;
                                case "gap":
                                    WriteControl(output, "gap", sse.Data);
                                    break;
                                case "reset":
                                    WriteControl(output, "reset", sse.Data);
                                    // Where the stream starts over, so a reconnect before the next message does not meet the reset again.
                                    last = ResetResumePoint(sse.Data) ?? last;
                                    break;
                                case "deleted" or "unsubscribed" or "disconnect" or "expired":
                                    // The stream is over for good: the topic is gone, the server API ended it (a
                                    // reconnect would subscribe again, or meet its refusal), or the token expired.
                                    WriteControl(output, sse.EventType, sse.Data);
                                    return ExitCodes.ServerError;
                                case "unavailable":
                                    // The node lost its log: the stream ends, and the loop below resumes it once the node (or the URL's next one) can serve.
                                    output.Note($"[yellow]node unavailable[/]: {Markup.Escape(Reason(sse.Data) ?? sse.Data)}");
                                    break;
                                case "connected":
                                    output.Note($"[grey]connected: {Markup.Escape(sse.Data)}[/]");
                                    break;
                            }
                        }
                    }
                    catch (HttpIOException) when (!bound.IsCancellationRequested)
                    {
                        // The node went away mid-stream: resume from the last id below.
                    }
                    catch (IOException) when (!bound.IsCancellationRequested)
                    {
                    }
                }
                output.Note($"[yellow]stream closed[/]; resuming after #{last ?? "(start)"}");
                await Task.Delay(backoff, bound.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!context.Cancellation.IsCancellationRequested && bound.IsCancellationRequested)
        {
            // --timeout ran out.
            if (count is { } wanted && received < wanted)
            {
                output.Note($"[yellow]timed out[/] after {received} of {wanted} messages");
                return ExitCodes.TimedOut;
            }
            return ExitCodes.Ok;
        }
    }

    private static void WriteMessage(CliOutput output, string data)
    {
        if (output.Json)
        {
            output.WriteJson(data);
            return;
        }
        using var document = JsonDocument.Parse(data);
        var message = document.RootElement;
        string id = message.TryGetProperty("id", out var i) ? i.ToString() : "?";
        string at = message.TryGetProperty("createdAt", out var c) && c.TryGetDateTimeOffset(out var time)
            ? time.ToLocalTime().ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture) : "";
        string value = message.TryGetProperty("value", out var v) ? v.ToString() : "";
        string headers = message.TryGetProperty("headers", out var h) && h.ValueKind == JsonValueKind.Object
            ? string.Join(' ', h.EnumerateObject().Select(header => $"{header.Name}={header.Value}")) : "";
        output.Console.MarkupLine($"[grey]#{Markup.Escape(id)}[/] [blue]{at}[/] {Markup.Escape(value)}{(headers.Length > 0 ? " [grey]" + Markup.Escape(headers) + "[/]" : "")}");
    }

    /// <summary>The stream id <c>position@epoch</c> a reset starts over from, or null when the event does not say.</summary>
    private static string? ResetResumePoint(string data)
    {
        using var document = JsonDocument.Parse(data);
        var reset = document.RootElement;
        return reset.TryGetProperty("position", out var position) && reset.TryGetProperty("epoch", out var epoch)
            ? $"{position.GetRawText()}@{epoch.GetString()}" : null;
    }

    private static void WriteControl(CliOutput output, string type, string data)
    {
        if (output.Json)
        {
            string rest = data.TrimStart().StartsWith('{') && data.Trim().Length > 2 ? "," + data.Trim()[1..] : "}";
            output.WriteJson($"{{\"event\":\"{type}\"{rest}");
            return;
        }
        if (type == "gap")
        {
            using var document = JsonDocument.Parse(data);
            var gap = document.RootElement;
            output.Console.MarkupLine(
                $"[black on yellow] GAP [/] [yellow]messages after #{Markup.Escape(gap.GetProperty("requested").ToString())} before #{Markup.Escape(gap.GetProperty("oldest").ToString())} are no longer retained; continuing from there[/]");
        }
        else if (type == "reset")
        {
            using var document = JsonDocument.Parse(data);
            var reset = document.RootElement;
            output.Console.MarkupLine(
                $"[black on yellow] RESET [/] [yellow]resume point #{Markup.Escape(reset.GetProperty("requested").ToString())}: {Markup.Escape(reset.GetProperty("reason").ToString())}[/]");
        }
        else
        {
            string why = type switch
            {
                "deleted" => "the topic was deleted",
                "unsubscribed" => "the server took this stream off the topic",
                "disconnect" => "the server ended this user's streams" + (Reason(data) is { } reason ? ": " + reason : ""),
                _ => "the token expired",
            };
            output.Console.MarkupLine($"[black on red] {type.ToUpperInvariant()} [/] [red]{Markup.Escape(why)}; the stream is over[/]");
        }
    }

    /// <summary>The <c>reason</c> of a closing event's data, if it has one.</summary>
    private static string? Reason(string data)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("reason", out var reason)
                && reason.ValueKind == JsonValueKind.String ? reason.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
