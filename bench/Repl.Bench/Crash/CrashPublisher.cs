using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Repl.Bench.Crash;

/// <summary>
/// One closed-loop publisher that keeps going while the host is killed and restarted. A keyed publisher sends each value
/// with an <c>Idempotency-Key</c> and retries it until it gets a 201, as a careful client does after a failed or
/// unanswered request; an unkeyed one sends each value once and moves on.
/// </summary>
internal sealed class CrashPublisher(HttpClient client, string topic, string name, bool keyed, Ledger ledger)
{
    /// <summary>Publishes until <paramref name="stop"/>; a keyed publisher then still finishes the value it holds (bounded by <paramref name="finish"/>).</summary>
    public async Task RunAsync(CancellationToken stop, TimeSpan finish)
    {
        for (long seq = 0; !stop.IsCancellationRequested; seq++)
        {
            string value = $"{name}-{seq}";
            ledger.Sent.TryAdd(value, 0);
            if (!keyed)
            {
                if (await TryPublishAsync(value, key: null) is not { } id) Interlocked.Increment(ref ledger.Unknown);
                else ledger.Acknowledge(value, id.Id);
                continue;
            }
            var finishing = Stopwatch.StartNew();
            for (int attempt = 1; ; attempt++)
            {
                var sent = DateTimeOffset.UtcNow;
                if (await TryPublishAsync(value, key: value) is { } id)
                {
                    ledger.Acknowledge(value, id.Id);
                    if (attempt > 1) Interlocked.Increment(ref ledger.Retried);
                    // Stamped before this request was sent: the answer is an earlier request's commit, whose own answer
                    // the kill cut off. The key kept the retry from committing it again.
                    if (attempt > 1 && id.CreatedAt < sent) Interlocked.Increment(ref ledger.RetriedCommittedBefore);
                    break;
                }
                if (stop.IsCancellationRequested && finishing.Elapsed > finish)
                {
                    ledger.Violations.Enqueue($"keyed value {value} got no 201 within {finish.TotalSeconds:0} s after the run stopped");
                    return;
                }
                await Task.Delay(Random.Shared.Next(20, 120), CancellationToken.None);
            }
        }
    }

    /// <summary>One request: its id and <c>createdAt</c> on 201; null on an allowed failure (503, a refused, cut or unanswered request).</summary>
    private async Task<(long Id, DateTimeOffset CreatedAt)?> TryPublishAsync(string value, string? key)
    {
        Interlocked.Increment(ref ledger.Requests);
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}")
        {
            Content = new StringContent($"{{\"value\":\"{value}\"}}", Encoding.UTF8, "application/json"),
        };
        if (key is not null) request.Headers.Add("Idempotency-Key", key);
        try
        {
            using var response = await client.SendAsync(request);
            string body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.Created)
            {
                var data = JsonDocument.Parse(body).RootElement.GetProperty("data");
                long id = long.Parse(data.GetProperty("id").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                string? stored = data.GetProperty("value").GetString();
                if (stored != value) ledger.Violations.Enqueue($"publish of {value} answered 201 with the value {stored} at {id}");
                return (id, data.GetProperty("createdAt").GetDateTimeOffset());
            }
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || !IsJsonError(body))
                ledger.Violations.Enqueue($"publish of {value} answered {(int)response.StatusCode}: {body}");
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException or IOException)
        {
            // The host was killed under the request, or is not listening yet.
            await Task.Delay(50);
        }
        Interlocked.Increment(ref ledger.Failed);
        return null;
    }

    internal static bool IsJsonError(string body)
    {
        try
        {
            var root = JsonDocument.Parse(body).RootElement;
            return root.TryGetProperty("error", out _) && root.TryGetProperty("cause", out _);
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
