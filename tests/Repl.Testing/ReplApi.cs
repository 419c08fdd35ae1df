using Xunit;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Repl.Testing;

/// <summary>Small helpers over the HTTP API for tests.</summary>
public static class ReplApi
{
    public static async Task CreateTopicAsync(this HttpClient client, string name)
    {
        var response = await client.PostAsJsonAsync("/topics", new { name });
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"creating topic {name} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Publishes and returns the message's id (its position).</summary>
    public static async Task<long> PublishAsync(this HttpClient client, string topic, string value, object? headers = null)
    {
        var response = await client.PostAsJsonAsync($"/topics/{topic}", new { value, headers });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"publish answered {(int)response.StatusCode}: {body}");
        return long.Parse(JsonDocument.Parse(body).RootElement.GetProperty("data").GetProperty("id").GetString()!);
    }

    /// <summary>Sends raw text and returns the status and parsed JSON body.</summary>
    public static async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(this HttpClient client, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, json);
    }

    /// <summary>
    /// Reads <paramref name="path"/> (a 200 JSON answer) until <paramref name="until"/> holds of it, and returns that
    /// answer; fails with the last answer after <paramref name="timeout"/>. For state that converges (presence), where
    /// there is no event to wait on.
    /// </summary>
    public static async Task<JsonElement> WaitUntilAsync(this HttpClient client, string path, Func<JsonElement, bool> until, TimeSpan timeout, string? bearer = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = "";
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (bearer is not null) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
            using var response = await client.SendAsync(request);
            last = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var json = JsonDocument.Parse(last).RootElement.Clone();
                if (until(json)) return json;
            }
            else
            {
                last = $"{(int)response.StatusCode} {last}";
            }
            if (DateTime.UtcNow > deadline) Assert.Fail($"GET {path} did not get there within {timeout.TotalSeconds:0.#} s; last answer: {last}");
            await Task.Delay(50);
        }
    }
}

/// <summary>Helpers for tests that expect failures.</summary>
public static class ReplApiTry
{
    /// <summary>Publishes (with an <c>Idempotency-Key</c> when given); returns the status and, on 201, the id.</summary>
    public static async Task<(HttpStatusCode Status, long Id, string Body)> TryPublishAsync(this HttpClient client, string topic, string value, string? idempotencyKey = null)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/topics/{topic}") { Content = JsonContent.Create(new { value }) };
            if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
            using var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            long id = response.StatusCode == HttpStatusCode.Created
                ? long.Parse(JsonDocument.Parse(body).RootElement.GetProperty("data").GetProperty("id").GetString()!)
                : 0;
            return (response.StatusCode, id, body);
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
        {
            return (0, 0, error.Message);
        }
    }

    /// <summary>
    /// Publishes as a careful client does: with an <c>Idempotency-Key</c>, sent again after a 503 (not committed, or
    /// outcome unknown: the error says to retry with the key) up to <paramref name="attempts"/> times, so it commits once.
    /// Fails on any other answer, or on the last 503. Returns the id.
    /// </summary>
    public static async Task<long> PublishRetryingAsync(this HttpClient client, string topic, string value, string idempotencyKey, int attempts = 5)
    {
        var (status, id, body) = await client.TryPublishAsync(topic, value, idempotencyKey);
        for (int attempt = 1; status == HttpStatusCode.ServiceUnavailable && attempt < attempts; attempt++)
        {
            await Task.Delay(200);
            (status, id, body) = await client.TryPublishAsync(topic, value, idempotencyKey);
        }
        Assert.True(status == HttpStatusCode.Created, $"publish answered {(int)status} (after up to {attempts} tries with one key): {body}");
        return id;
    }
}
