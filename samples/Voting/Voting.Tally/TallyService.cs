using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Voting.Tally;

/// <summary>Runs the <see cref="Tally"/> against a Repl node: reads <c>votes</c> over SSE, publishes to <c>results</c> in batches.</summary>
/// <remarks>
/// <para><b>Restart-safe.</b> The votes topic is the durable log and the only input, so the state is rebuilt by replaying
/// it from position 0 at every start. Every result carries a <c>through</c> header, the position of the vote it answers;
/// at start the tally reads the last result already published and replays up to that position silently, so a restart
/// neither repeats nor skips a confirmation. (A batch publish is one commit: a batch is either in the log or not.)</para>
/// <para><b>No vote lost or counted twice across reconnects.</b> The stream resumes with <c>Last-Event-ID</c> = the last
/// vote applied; the node replays exactly what came after it.</para>
/// <para>If a batch publish fails with an uncertain outcome (a timeout after the node committed it) the retry can
/// publish that batch twice; readers can drop repeats by the <c>through</c> header.</para>
/// </remarks>
internal sealed class TallyService : BackgroundService
{
    private readonly TallyOptions _options;
    private readonly HttpClient _client;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Channel<TallyResult> _outbox = Channel.CreateUnbounded<TallyResult>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource _live = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _silentThrough;
    private long _lastPartialTotal = -1;

    public TallyService(IOptions<TallyOptions> options, HttpClient client, ILogger<TallyService> logger)
    {
        _options = options.Value;
        _client = client;
        _logger = logger;
        State = new Tally(_options.OptionList, _options.PartialEvery);
    }

    public Tally State { get; }

    /// <summary>Completes once the votes stream is open: every vote published from then on will be answered.</summary>
    public Task Live => _live.Task;

    public TallyOptions Options => _options;

    /// <summary>A consistent copy of the current counts (for the page).</summary>
    public string Snapshot()
    {
        lock (_gate) return State.Snapshot(State.Closed ? "final" : "partial");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await EnsureTopicAsync(_options.Votes, stoppingToken);
        await EnsureTopicAsync(_options.Results, stoppingToken);
        _silentThrough = await LastAnsweredAsync(stoppingToken);
        _logger.LogInformation("Tally starting: replaying {Votes} from 0; results already published through position {Through}", _options.Votes, _silentThrough);
        var publisher = PublishLoopAsync(stoppingToken);
        var timer = PartialTimerAsync(stoppingToken);
        try
        {
            await ConsumeAsync(stoppingToken);
        }
        finally
        {
            _outbox.Writer.TryComplete();
            await Task.WhenAll(publisher, timer).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task ConsumeAsync(CancellationToken cancellationToken)
    {
        var results = new List<TallyResult>(4);
        await foreach (var sse in TopicStream.FollowAsync(_client, _options.Votes, after: 0, message => _logger.LogWarning("{Message}", message), cancellationToken))
        {
            switch (sse.EventType)
            {
                case "connected":
                    // Subscribed: any vote published from now on reaches this stream.
                    _live.TrySetResult();
                    break;
                case "gap":
                    _logger.LogError("Votes were trimmed by retention before the tally read them ({Gap}): counts cannot be rebuilt exactly. Raise Journal:MaxMessagesPerTopic.", sse.Data);
                    break;
                case "deleted":
                    _logger.LogError("The {Topic} topic was deleted; the tally stops", _options.Votes);
                    return;
                case "message":
                    using (var document = JsonDocument.Parse(sse.Data))
                    {
                        long position = long.Parse(document.RootElement.GetProperty("id").GetString()!, CultureInfo.InvariantCulture);
                        string value = document.RootElement.GetProperty("value").GetString() ?? "";
                        lock (_gate)
                        {
                            results.Clear();
                            State.Apply(position, value, results);
                            // Up to _silentThrough the answers are already in the results topic: rebuild only.
                            if (position > _silentThrough)
                            {
                                foreach (var result in results)
                                {
                                    if (result.Type == "partial") _lastPartialTotal = State.Total;
                                    _outbox.Writer.TryWrite(result);
                                }
                            }
                        }
                    }
                    break;
            }
        }
    }

    /// <summary>Partial results on a clock too, so a page sees the counts move during slow voting.</summary>
    private async Task PartialTimerAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.PartialInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                lock (_gate)
                {
                    if (State.Through <= _silentThrough || State.Closed || State.Total == _lastPartialTotal) continue;
                    _lastPartialTotal = State.Total;
                    _outbox.Writer.TryWrite(new TallyResult("partial", State.Snapshot("partial"), State.Through));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Drains the outbox in batches of up to <see cref="TallyOptions.MaxBatch"/>: one commit and one request per batch.</summary>
    private async Task PublishLoopAsync(CancellationToken cancellationToken)
    {
        var reader = _outbox.Reader;
        var batch = new List<TallyResult>(_options.MaxBatch);
        string path = $"/topics/{Uri.EscapeDataString(_options.Results)}/batch";
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (batch.Count < _options.MaxBatch && reader.TryRead(out var result)) batch.Add(result);
                string body = BatchBody(batch);
                for (var delay = TimeSpan.FromMilliseconds(100); ; delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000)))
                {
                    try
                    {
                        // Not tied to stoppingToken: a graceful stop lets the batch in flight finish, so its outcome is known
                        // to the next tally (which reads the last `through` published) instead of landing after it looked.
                        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                        using var response = await _client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), timeout.Token);
                        if (response.IsSuccessStatusCode) break;
                        _logger.LogWarning("Batch publish answered {Status}: {Body}", (int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
                    }
                    catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
                    {
                        _logger.LogWarning("Batch publish failed ({Error}); retrying", exception.Message);
                    }
                    await Task.Delay(delay, cancellationToken);
                }
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private static string BatchBody(List<TallyResult> batch)
    {
        using var buffer = new MemoryStream(batch.Count * 160);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var result in batch)
            {
                writer.WriteStartObject();
                writer.WriteString("value", result.Json);
                writer.WriteStartObject("headers");
                writer.WriteString("type", result.Type);
                writer.WriteString("through", result.Through.ToString(CultureInfo.InvariantCulture));
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Creates the topic if needed, waiting for the node to come up.</summary>
    private async Task EnsureTopicAsync(string topic, CancellationToken cancellationToken)
    {
        string body = JsonSerializer.Serialize(new Dictionary<string, string> { ["name"] = topic });
        while (true)
        {
            try
            {
                using var response = await _client.PostAsync("/topics", new StringContent(body, Encoding.UTF8, "application/json"), cancellationToken);
                if (response.IsSuccessStatusCode || (int)response.StatusCode == 409) return;
                throw new InvalidOperationException($"creating topic {topic} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
            catch (HttpRequestException exception)
            {
                _logger.LogWarning("Waiting for the Repl node at {Node}: {Error}", _client.BaseAddress, exception.Message);
                await Task.Delay(1000, cancellationToken);
            }
        }
    }

    /// <summary>The <c>through</c> header of the last result already in the results topic (0 when none).</summary>
    private async Task<long> LastAnsweredAsync(CancellationToken cancellationToken)
    {
        string topic = Uri.EscapeDataString(_options.Results);
        using var info = JsonDocument.Parse(await _client.GetStringAsync($"/topics/{topic}", cancellationToken));
        long last = info.RootElement.GetProperty("lastPosition").GetInt64();
        if (last == 0 || info.RootElement.GetProperty("messages").GetInt64() == 0) return 0;
        using var page = JsonDocument.Parse(await _client.GetStringAsync($"/topics/{topic}/messages?after={last - 1}&limit=1", cancellationToken));
        foreach (var message in page.RootElement.GetProperty("messages").EnumerateArray())
        {
            if (message.TryGetProperty("headers", out var headers) && headers.TryGetProperty("through", out var through)
                && long.TryParse(through.GetString(), CultureInfo.InvariantCulture, out long position))
            {
                return position;
            }
        }
        return 0;
    }
}
