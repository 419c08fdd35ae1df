using System.Text.Json;

namespace Repl.Bench.Crash;

/// <summary>A topic's whole history, read back through <c>GET /topics/{t}/messages</c> page by page.</summary>
internal static class JournalReadback
{
    private const int Page = 1000; // Limits:MaxHistoryPage's default

    /// <summary>(id, value) in log order.</summary>
    public static async Task<List<(long Id, string Value)>> ReadAsync(HttpClient client, string topic)
    {
        var messages = new List<(long, string)>();
        long after = 0;
        while (true)
        {
            string body = await client.GetStringAsync($"/topics/{topic}/messages?after={after}&limit={Page}");
            var page = JsonDocument.Parse(body).RootElement.GetProperty("messages");
            foreach (var message in page.EnumerateArray())
            {
                after = long.Parse(message.GetProperty("id").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                messages.Add((after, message.GetProperty("value").GetString() ?? ""));
            }
            if (page.GetArrayLength() < Page) return messages;
        }
    }

    /// <summary>
    /// Checks the journal against what the clients did: every acknowledged publish is there at its id with its value
    /// (else lost), no value is there twice (duplicated, keyed retries included), every value there was sent (else a
    /// phantom). Violations go to the ledger; returns (lost, duplicated, phantom).
    /// </summary>
    public static (int Lost, int Duplicated, int Phantom) Compare(IReadOnlyList<(long Id, string Value)> journal, Ledger ledger)
    {
        var byId = new Dictionary<long, string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int duplicated = 0, phantom = 0, lost = 0;
        foreach (var (id, value) in journal)
        {
            byId[id] = value;
            if (!seen.Add(value))
            {
                duplicated++;
                ledger.Violations.Enqueue($"journal holds {value} twice (again at {id})");
            }
            if (!ledger.Sent.ContainsKey(value))
            {
                phantom++;
                ledger.Violations.Enqueue($"journal holds {value} at {id}, which no client sent");
            }
        }
        foreach (var (value, id) in ledger.Acknowledged)
        {
            if (byId.TryGetValue(id, out var stored) && stored == value) continue;
            lost++;
            ledger.Violations.Enqueue($"acknowledged {value} at {id} is not in the journal (found {stored ?? "nothing"} there)");
        }
        return (lost, duplicated, phantom);
    }

    /// <summary>
    /// Checks one subscriber against the journal: it got every message after the point it started from, each once, in
    /// order, each as the journal holds it. Returns (missing, phantom); duplicates were counted as it received them.
    /// </summary>
    public static (int Missing, int Phantom) CompareDelivered(IReadOnlyList<(long Id, string Value)> journal, CrashSubscriber subscriber, string name, Ledger ledger)
    {
        var byId = journal.ToDictionary(m => m.Id, m => m.Value);
        var got = new HashSet<long>();
        int phantom = 0;
        foreach (var (id, value) in subscriber.Received)
        {
            got.Add(id);
            if (byId.TryGetValue(id, out var stored) && stored == value) continue;
            phantom++;
            ledger.Violations.Enqueue($"subscriber {name} got {value} at {id}, which the journal does not hold there");
        }
        int missing = 0;
        foreach (var (id, value) in journal)
        {
            if (id <= subscriber.StartedAfter || got.Contains(id)) continue;
            if (missing++ < 5) ledger.Violations.Enqueue($"subscriber {name} never got {value} at {id}");
        }
        return (missing, phantom);
    }
}
