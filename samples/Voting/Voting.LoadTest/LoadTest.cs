using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Voting.LoadTest;

/// <summary>The seed's load test on Repl: many voters over a small HTTP connection pool, then a check of every answer.</summary>
/// <remarks>
/// Voter <c>i</c> is <c>voter-i</c>. A seeded random picks each ballot, the voters who vote twice (the second ballot is
/// sent after the first is acknowledged, so the first is the one that counts) and those who pick an unknown option.
/// The expected outcome is computed up front; the run fails on any difference in confirmations, errors or final counts.
/// </remarks>
internal sealed class LoadTest(LoadTestOptions options, TextWriter log)
{
    public async Task<LoadTestReport> RunAsync(CancellationToken cancellationToken)
    {
        string[] choices = options.Options.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var plan = MakePlan(choices);
        using var client = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.Connections,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        })
        { BaseAddress = new Uri(options.Node), Timeout = TimeSpan.FromSeconds(60) };
        // Results are read on their own connection so the pool's limit never blocks the stream.
        using var streamClient = new HttpClient { BaseAddress = new Uri(options.Node), Timeout = System.Threading.Timeout.InfiniteTimeSpan };

        await CreateTopicAsync(client, options.Votes, cancellationToken);
        await CreateTopicAsync(client, options.Results, cancellationToken);
        if (await MessageCountAsync(client, options.Votes, cancellationToken) > 0)
        {
            throw new InvalidOperationException(
                $"the '{options.Votes}' topic already holds ballots: use a fresh node (--in-memory) or new --votes/--results names for both the tally and the load test");
        }
        long resultsFrom = await LastPositionAsync(client, options.Results, cancellationToken);

        // Listen before voting so no answer is missed: resume after the results topic's current end.
        var answers = new Answers();
        using var listening = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var listener = ListenAsync(streamClient, options.Results, resultsFrom, answers, connected, listening.Token);
        await connected.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken);

        log.WriteLine($"casting {plan.Ballots:N0} ballots from {options.Voters:N0} voters ({plan.Doubles.Count} double, {plan.Invalid.Count} invalid) " +
            $"over {options.Connections} connections, {options.Concurrency} in flight");
        var clock = Stopwatch.StartNew();
        string path = $"/topics/{Uri.EscapeDataString(options.Votes)}";
        await Parallel.ForAsync(0, options.Voters, new ParallelOptions { MaxDegreeOfParallelism = options.Concurrency, CancellationToken = cancellationToken }, async (i, token) =>
        {
            var voter = plan.Voters[i];
            bool refused = options.BallotHook && plan.Invalid.Contains(voter.UserId);
            await CastAsync(client, path, voter.UserId, voter.First, token, refused ? HttpStatusCode.Forbidden : HttpStatusCode.Created);
            if (voter.Second is { } second) await CastAsync(client, path, voter.UserId, second, token);
        });
        double castSeconds = clock.Elapsed.TotalSeconds;
        log.WriteLine($"all ballots acknowledged in {castSeconds:0.00} s ({plan.Ballots / castSeconds:N0} ballots/s); closing the vote");
        await PostAsync(client, path, "{\"value\":\"{\\\"type\\\":\\\"close\\\"}\"}", cancellationToken);

        bool final = await answers.Final.Task.WaitAsync(options.Timeout, cancellationToken).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default);
        double totalSeconds = clock.Elapsed.TotalSeconds;
        await listening.CancelAsync();
        await listener.ContinueWith(_ => { }, TaskScheduler.Default);

        var problems = final ? Check(plan, answers, choices, options.BallotHook) : [$"no final result within {options.Timeout.TotalSeconds:0} s ({answers.Confirmations.Count:N0} confirmations seen)"];
        var finalCounts = answers.FinalCounts ?? new Dictionary<string, long>();
        return new LoadTestReport(options.Voters, plan.Ballots, answers.FinalTotal, answers.FinalRejected, finalCounts, castSeconds, totalSeconds, problems);
    }

    private Plan MakePlan(string[] choices)
    {
        var random = new Random(options.Seed);
        var plan = new Plan();
        for (int i = 0; i < options.Voters; i++)
        {
            string userId = $"voter-{i.ToString(CultureInfo.InvariantCulture)}";
            double roll = random.NextDouble();
            string first = choices[random.Next(choices.Length)];
            string? second = null;
            if (roll < options.Invalid)
            {
                first = "Z";
                plan.Invalid.Add(userId);
            }
            else
            {
                plan.Expected[first] = plan.Expected.GetValueOrDefault(first) + 1;
                plan.Valid.Add(userId);
                if (roll < options.Invalid + options.Doubles)
                {
                    second = choices[random.Next(choices.Length)];
                    plan.Doubles.Add(userId);
                }
            }
            plan.Voters.Add(new Voter(userId, first, second));
        }
        return plan;
    }

    private static List<string> Check(Plan plan, Answers answers, string[] choices, bool ballotHook)
    {
        var problems = new List<string>();
        void Problem(string text)
        {
            if (problems.Count < 20) problems.Add(text);
        }
        foreach (var userId in plan.Valid)
        {
            int confirmations = answers.Confirmations.GetValueOrDefault(userId);
            if (confirmations != 1) Problem($"{userId}: {confirmations} confirmations, expected 1");
        }
        foreach (var userId in plan.Invalid)
        {
            if (answers.Confirmations.ContainsKey(userId)) Problem($"{userId}: an invalid ballot was confirmed");
            // Refused by the publish hook (CastAsync checked the 403): never committed, so the tally says nothing of it.
            if (ballotHook)
            {
                if (answers.Errors.ContainsKey(userId)) Problem($"{userId}: an invalid ballot refused by the hook reached the tally");
                continue;
            }
            if (!answers.Errors.TryGetValue(userId, out var reasons) || reasons.Count != 1 || !reasons.Single().StartsWith("invalid option", StringComparison.Ordinal))
                Problem($"{userId}: expected one 'invalid option' error, got [{string.Join("; ", answers.Errors.GetValueOrDefault(userId) ?? [])}]");
        }
        foreach (var userId in plan.Doubles)
        {
            if (!answers.Errors.TryGetValue(userId, out var reasons) || reasons.Count != 1 || reasons.Single() != "already voted")
                Problem($"{userId}: expected one 'already voted' error, got [{string.Join("; ", answers.Errors.GetValueOrDefault(userId) ?? [])}]");
        }
        int unexpectedErrors = answers.Errors.Keys.Count(userId => !plan.Doubles.Contains(userId) && !plan.Invalid.Contains(userId));
        if (unexpectedErrors > 0) Problem($"{unexpectedErrors} voters got errors they should not have");
        foreach (var choice in choices)
        {
            long expected = plan.Expected.GetValueOrDefault(choice);
            long counted = answers.FinalCounts?.GetValueOrDefault(choice) ?? -1;
            if (expected != counted) Problem($"option {choice}: final count {counted}, sent {expected}");
        }
        if (answers.FinalTotal != plan.Valid.Count) Problem($"final total {answers.FinalTotal}, sent {plan.Valid.Count} valid votes");
        int rejected = plan.Doubles.Count + (ballotHook ? 0 : plan.Invalid.Count);
        if (answers.FinalRejected != rejected) Problem($"final rejected {answers.FinalRejected}, expected {rejected} bad ballots to reach the tally");
        return problems;
    }

    private static async Task ListenAsync(HttpClient client, string topic, long after, Answers answers, TaskCompletionSource connected, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var sse in TopicStream.FollowAsync(client, topic, after, null, cancellationToken))
            {
                if (sse.EventType == "connected") connected.TrySetResult();
                if (sse.EventType != "message") continue;
                using var message = JsonDocument.Parse(sse.Data);
                using var result = JsonDocument.Parse(message.RootElement.GetProperty("value").GetString()!);
                answers.Add(result.RootElement);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task CastAsync(HttpClient client, string path, string userId, string option, CancellationToken cancellationToken,
        HttpStatusCode expected = HttpStatusCode.Created)
    {
        string ballot = JsonSerializer.Serialize(new Dictionary<string, string> { ["userId"] = userId, ["option"] = option });
        await PostAsync(client, path, JsonSerializer.Serialize(new Dictionary<string, string> { ["value"] = ballot }), cancellationToken, expected);
    }

    private static async Task PostAsync(HttpClient client, string path, string body, CancellationToken cancellationToken, HttpStatusCode expected = HttpStatusCode.Created)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"), cancellationToken);
                if (response.StatusCode == expected) return;
                // 503 (log unavailable) and 429 (rate limit) are worth a retry; anything else is a bug in the test.
                if (response.StatusCode is not (HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests) || attempt == 5)
                    throw new InvalidOperationException($"POST {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
            catch (HttpRequestException) when (attempt < 5)
            {
                // Connection-level failures before the request was sent; a ballot resent after an unknown outcome would be a
                // double vote, which the tally rejects, so the first ballot still counts once.
            }
            await Task.Delay(100 * attempt, cancellationToken);
        }
    }

    private static async Task CreateTopicAsync(HttpClient client, string topic, CancellationToken cancellationToken)
    {
        using var response = await client.PostAsync("/topics", new StringContent(JsonSerializer.Serialize(new Dictionary<string, string> { ["name"] = topic }), Encoding.UTF8, "application/json"), cancellationToken);
        if (!response.IsSuccessStatusCode && response.StatusCode != HttpStatusCode.Conflict)
            throw new InvalidOperationException($"creating {topic} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
    }

    private static async Task<long> MessageCountAsync(HttpClient client, string topic, CancellationToken cancellationToken)
    {
        using var info = JsonDocument.Parse(await client.GetStringAsync($"/topics/{Uri.EscapeDataString(topic)}", cancellationToken));
        return info.RootElement.GetProperty("messages").GetInt64();
    }

    private static async Task<long> LastPositionAsync(HttpClient client, string topic, CancellationToken cancellationToken)
    {
        using var info = JsonDocument.Parse(await client.GetStringAsync($"/topics/{Uri.EscapeDataString(topic)}", cancellationToken));
        return info.RootElement.GetProperty("lastPosition").GetInt64();
    }

    private sealed record Voter(string UserId, string First, string? Second);

    private sealed class Plan
    {
        public List<Voter> Voters { get; } = [];
        public HashSet<string> Valid { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Doubles { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Invalid { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, long> Expected { get; } = new(StringComparer.Ordinal);
        public int Ballots => Voters.Count + Doubles.Count;
    }

    /// <summary>What the results topic said, gathered by the listener (one thread) and read after the final.</summary>
    private sealed class Answers
    {
        public ConcurrentDictionary<string, int> Confirmations { get; } = new(StringComparer.Ordinal);
        public ConcurrentDictionary<string, List<string>> Errors { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, long>? FinalCounts { get; private set; }
        public long FinalTotal { get; private set; }
        public long FinalRejected { get; private set; }
        public TaskCompletionSource Final { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Add(JsonElement result)
        {
            switch (result.GetProperty("type").GetString())
            {
                case "confirmation":
                    Confirmations.AddOrUpdate(result.GetProperty("userId").GetString()!, 1, (_, n) => n + 1);
                    break;
                case "error":
                    string userId = result.GetProperty("userId").GetString() ?? "";
                    Errors.GetOrAdd(userId, _ => []).Add(result.GetProperty("reason").GetString()!);
                    break;
                case "final":
                    FinalCounts = result.GetProperty("counts").EnumerateObject().ToDictionary(count => count.Name, count => count.Value.GetInt64());
                    FinalTotal = result.GetProperty("total").GetInt64();
                    FinalRejected = result.GetProperty("rejected").GetInt64();
                    Final.TrySetResult();
                    break;
            }
        }
    }
}
