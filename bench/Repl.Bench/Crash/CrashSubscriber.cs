using System.Net.Http.Headers;
using System.Text.Json;

namespace Repl.Bench.Crash;

/// <summary>
/// An SSE subscriber that resumes with <c>Last-Event-ID</c> whenever its stream ends (the host was killed), as
/// EventSource does. Records every message it receives, in order; a repeated or smaller id, a <c>gap</c> or a
/// <c>reset</c> is a violation (nothing is trimmed in a crash run, and the log is the same across restarts).
/// </summary>
internal sealed class CrashSubscriber(HttpClient client, string topic, string name, Ledger ledger)
{
    private string? _lastEventId;

    /// <summary>The position the first stream started at (its <c>connected</c> event): every later message is expected.</summary>
    public long StartedAfter { get; private set; } = -1;

    /// <summary>(id, value) in the order received.</summary>
    public List<(long Id, string Value)> Received { get; } = [];

    public long LastId => Volatile.Read(ref _lastId);

    public int Reconnects { get; private set; }

    /// <summary>Streams that had connected and then ended after <c>event: unavailable</c> (the host stopping, as it should).</summary>
    public int EndedUnavailable { get; private set; }

    /// <summary>Streams that had connected and then ended (or broke) without <c>event: unavailable</c> (a kill, or an unclean stop).</summary>
    public int EndedOtherwise { get; private set; }

    private string? _lastType;

    private long _lastId;

    /// <summary>Connects (the first time without <c>Last-Event-ID</c>) and returns once the first <c>connected</c> event is in.</summary>
    public async Task<Task> StartAsync(CancellationToken stop)
    {
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = RunAsync(connected, stop);
        await Task.WhenAny(connected.Task, run);
        if (!connected.Task.IsCompleted) throw new InvalidOperationException($"subscriber {name} ended before it connected");
        return run;
    }

    private async Task RunAsync(TaskCompletionSource connected, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            _lastType = null;
            try
            {
                await ReadOneStreamAsync(connected, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception error) when (error is HttpRequestException or IOException or OperationCanceledException)
            {
            }
            if (_lastType == "unavailable") EndedUnavailable++;
            else if (_lastType is not null) EndedOtherwise++;
            Reconnects++;
            try
            {
                await Task.Delay(100, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task ReadOneStreamAsync(TaskCompletionSource connected, CancellationToken stop)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/topics/{topic}/sse");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (_lastEventId is not null) request.Headers.Add("Last-Event-ID", _lastEventId);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop);
        if (!response.IsSuccessStatusCode) return; // starting, or unavailable: try again
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop));
        string? type = null, id = null, data = null;
        while (await reader.ReadLineAsync(stop) is { } line)
        {
            if (line.Length > 0)
            {
                if (line.StartsWith("event:", StringComparison.Ordinal)) type = line[6..].Trim();
                else if (line.StartsWith("id:", StringComparison.Ordinal)) id = line[3..].Trim();
                else if (line.StartsWith("data:", StringComparison.Ordinal)) data = line[5..].TrimStart();
                continue;
            }
            Dispatch(type, id, data, connected);
            type = id = data = null;
        }
    }

    private void Dispatch(string? type, string? id, string? data, TaskCompletionSource connected)
    {
        if (type != "ping") _lastType = type ?? "message";
        switch (type)
        {
            case "connected":
                if (StartedAfter < 0 && data is not null)
                {
                    StartedAfter = JsonDocument.Parse(data).RootElement.GetProperty("position").GetInt64();
                    Volatile.Write(ref _lastId, StartedAfter);
                }
                connected.TrySetResult();
                break;
            case null or "message" when id is not null && data is not null:
                var message = JsonDocument.Parse(data).RootElement;
                long position = long.Parse(message.GetProperty("id").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                string value = message.GetProperty("value").GetString() ?? "";
                if (position <= LastId)
                {
                    ledger.Violations.Enqueue($"subscriber {name} got {position} after {LastId} (a duplicate or out of order)");
                }
                else
                {
                    Volatile.Write(ref _lastId, position);
                }
                lock (Received) Received.Add((position, value));
                _lastEventId = id;
                break;
            case "gap" or "reset" or "deleted":
                ledger.Violations.Enqueue($"subscriber {name} got event: {type} {data} on resuming from {_lastEventId}");
                break;
        }
    }
}
