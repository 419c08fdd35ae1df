using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;

namespace Repl.Bench;

/// <summary>One load run: connect the subscribers, publish for the duration, drain, count.</summary>
internal sealed class LoadRun(BenchOptions options)
{
    private static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;

    private Timeline? _timeline;

    public async Task<BenchResult> RunAsync()
    {
        // One target per server URL; connection i (subscriber or publisher) goes to target i mod count.
        var targets = new Target[options.Urls.Count];
        for (int i = 0; i < targets.Length; i++) targets[i] = new Target(await ResolveAsync(options.Urls[i]).ConfigureAwait(false), options.Urls[i].Authority);
        await EnsureTopicAsync().ConfigureAwait(false);

        var result = new BenchResult { Options = options };
        // Connects (30 s at most), both publishing phases and their drains, with room to spare.
        using var timeline = _timeline = options.TimelinePath is null ? null
            : new Timeline(35 + options.WarmupSeconds + options.DurationSeconds + 2 * options.DrainSeconds, options.ServerPids, options.Urls);
        timeline?.Mark("connect");
        result.ServerBefore = ProcessSample.Read(options.ServerPids);

        // Subscribers: connect (bounded concurrency) and wait for each one's response head, as EventSource's `open` does.
        var latency = new LatencyHistogram();
        var deliveries = new DeliveryCounter();
        int buffer = options.ReceiveBufferBytes > 0 ? options.ReceiveBufferBytes : options.Subscribers > 2000 ? 4096 : 32 * 1024;
        string path = $"/topics/{Uri.EscapeDataString(options.Topic)}/sse";
        var subscribers = new SseSubscriber[options.Subscribers];
        var runs = new Task[options.Subscribers];
        using var receiver = options.Receiver == "epoll" ? new EpollReceiver(options.Subscribers, options.ReceiverNice) : null;
        using var gate = new SemaphoreSlim(Math.Max(1, options.ConnectConcurrency));
        long connectStart = Stopwatch.GetTimestamp();
        var connects = new List<Task>(options.Subscribers);
        for (int i = 0; i < subscribers.Length; i++)
        {
            var target = targets[i % targets.Length];
            var subscriber = subscribers[i] = new SseSubscriber(target.Endpoint, target.Host, path, buffer, latency, deliveries)
            {
                ReceivedIds = options.Retry ? [] : null,
                Timeline = timeline,
            };
            await gate.WaitAsync().ConfigureAwait(false);
            if (receiver is null) runs[i] = Task.Run(subscriber.RunAsync);
            else
            {
                receiver.Add(i, subscriber, target.Endpoint);
                runs[i] = Task.CompletedTask;
            }
            connects.Add(subscriber.Connected.WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => gate.Release(), TaskScheduler.Default));
        }
        await Task.WhenAll(connects).ConfigureAwait(false);
        result.ConnectSeconds = Seconds(Stopwatch.GetTimestamp() - connectStart);
        if (receiver?.NiceRefused is { } refused) Console.Error.WriteLine($"warning: the receiver runs at the program's priority ({refused}): its latency may include its own queueing");
        result.ServerOpened = ProcessSample.Read(options.ServerPids);
        result.ConnectFailures = subscribers.Count(s => !s.Connected.IsCompletedSuccessfully);
        var connectTimes = subscribers.Where(s => s.Connected.IsCompletedSuccessfully).Select(s => Seconds(s.ConnectTicks) * 1000).Order().ToArray();
        result.ConnectMsP50 = Percentile(connectTimes, 0.5);
        result.ConnectMsP99 = Percentile(connectTimes, 0.99);
        result.ConnectMsMax = connectTimes.Length == 0 ? 0 : connectTimes[^1];

        // Connections that send the request and never read: their socket buffers fill and stay full. Then the slow readers.
        var nonReaders = new List<Socket>();
        var slowReads = new List<Task>();
        for (int i = 0; i < options.NonReaders + options.SlowReaders; i++)
        {
            var target = targets[i % targets.Length];
            var request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {target.Host}\r\nAccept: text/event-stream\r\n\r\n");
            var socket = new Socket(target.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            await socket.ConnectAsync(target.Endpoint).ConfigureAwait(false);
            await socket.SendAsync(request, SocketFlags.None).ConfigureAwait(false);
            nonReaders.Add(socket);
            if (i >= options.NonReaders) slowReads.Add(ReadSlowlyAsync(socket));
        }
        await Task.Delay(200).ConfigureAwait(false);
        result.ServerConnected = ProcessSample.Read(options.ServerPids);

        IReadOnlyList<Publisher.Ack> warmupAcks = [];
        if (options.WarmupSeconds > 0)
        {
            timeline?.Mark("warm-up");
            var warm = await PublishAsync(targets, options.WarmupSeconds, new LatencyHistogram(), null, killPid: null).ConfigureAwait(false);
            warmupAcks = warm.Acks;
            await DrainAsync(subscribers, deliveries, warm.Accepted).ConfigureAwait(false);
            // Every stream counts from its head, so the warm-up right after the opens is where a late start shows.
            result.WarmupLost = subscribers.Where(s => s.Connected.IsCompletedSuccessfully && !s.Closed).Sum(s => Math.Max(0, warm.Accepted - s.Received));
            latency = new LatencyHistogram();
            deliveries = new DeliveryCounter();
            foreach (var subscriber in subscribers) subscriber.Reset(latency, deliveries);
            result.WarmupAccepted = warm.Accepted;
        }

        // Publish.
        var self = Process.GetCurrentProcess();
        var clientCpuStart = self.TotalProcessorTime;
        var cpuStart = CpuSample.Read();
        result.ServerStart = ProcessSample.Read(options.ServerPids);
        result.EtcdStart = ProcessSample.Read(options.EtcdPids);
        var ackLatency = new LatencyHistogram();
        timeline?.Mark("measured");
        var published = await PublishAsync(targets, options.DurationSeconds, ackLatency, result.RssSamplesKb, options.KillPid).ConfigureAwait(false);
        long startAt = published.StartAt;
        result.PublishSeconds = published.Seconds;
        result.ServerPublished = ProcessSample.Read(options.ServerPids);
        result.Accepted = published.Accepted;
        result.Rejected = published.Rejected;
        result.PublishErrors = published.Errors;
        result.PublishLastError = published.LastError;
        result.AckLatency = ackLatency;
        result.Abandoned = published.Abandoned;
        if (published.KilledAt is { } killedAt)
        {
            result.Handover = HandoverWindow.Measure(startAt, killedAt, startAt + (long)(published.Seconds * Stopwatch.Frequency), published.Acks.Select(ack => ack.At));
        }

        timeline?.Mark("drain");
        result.DrainSeconds = await DrainAsync(subscribers, deliveries, result.Accepted).ConfigureAwait(false);
        timeline?.Mark("end");
        result.ClientCpuSeconds = (self.TotalProcessorTime - clientCpuStart).TotalSeconds;
        result.ServerAfter = ProcessSample.Read(options.ServerPids);
        result.EtcdAfter = ProcessSample.Read(options.EtcdPids);
        result.CpuBusyPercent = CpuSample.BusyPercent(cpuStart, CpuSample.Read());
        result.ServerCpu = CpuSample.PinnedCpu([.. options.ServerPids, .. options.EtcdPids]);
        result.LoadAverage = CpuSample.LoadAverage();

        // Count.
        result.Delivered = deliveries.Total;
        result.DeliverySeconds = deliveries.LastTicks > startAt ? Seconds(deliveries.LastTicks - startAt) : 0;
        result.Latency = latency;
        // Subscribers that never got connected are counted under connect.failed, not as losses.
        // With --retry the check is id by id against the acknowledged ids; otherwise by count (ids strictly increase).
        var acked = options.Retry ? new AckedIds(published.Acks.Select(ack => ack.Id), warmupAcks.Select(ack => ack.Id)) : null;
        foreach (var s in subscribers.Where(s => s.Connected.IsCompletedSuccessfully))
        {
            result.Duplicates += s.Duplicates;
            result.OutOfOrder += s.OutOfOrder;
            long missing = result.Accepted - s.Received;
            if (acked is not null)
            {
                (missing, long unacknowledged, long delivered) = acked.Check(s.ReceivedIds!);
                result.Unacknowledged += unacknowledged;
                result.DeliveredPerSubscriberMin = Math.Min(result.DeliveredPerSubscriberMin ?? long.MaxValue, delivered);
                result.DeliveredPerSubscriberMax = Math.Max(result.DeliveredPerSubscriberMax ?? 0, delivered);
            }
            if (missing > 0)
            {
                result.Lost += missing;
                result.SubscribersWithLoss++;
            }
            else
            {
                result.Extra -= missing;
            }
            if (s.Closed) result.Disconnected++;
            if (s.Failure is not null) result.SubscriberError ??= s.Failure;
        }
        result.SubscriberError ??= subscribers.Select(s => s.Failure).FirstOrDefault(f => f is not null);

        if (timeline is not null) timeline.Write(options.TimelinePath!);
        foreach (var s in subscribers) s.Stop();
        receiver?.Dispose();
        foreach (var socket in nonReaders) socket.Dispose();
        await Task.WhenAll(slowReads).ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll(runs), Task.Delay(2000)).ConfigureAwait(false);
        return result;
    }

    /// <summary>A slow reader: 4 KB every 20 ms until its socket is closed (by the server, or by the run's end).</summary>
    private static async Task ReadSlowlyAsync(Socket socket)
    {
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false) > 0) await Task.Delay(20).ConfigureAwait(false);
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>One server: where its connections go and the Host header they send.</summary>
    private sealed record Target(IPEndPoint Endpoint, string Host);

    /// <param name="Acks">With <c>--retry</c>, every acknowledgement (id and time); else empty.</param>
    /// <param name="KilledAt">When <c>--kill-pid</c> was killed (Stopwatch ticks).</param>
    private sealed record Published(long StartAt, double Seconds, long Accepted, long Rejected, long Errors, string? LastError,
        IReadOnlyList<Publisher.Ack> Acks, long Abandoned, long? KilledAt);

    /// <summary>Runs the publishers for <paramref name="seconds"/> and waits for their last answers; kills <paramref name="killPid"/> on the way.</summary>
    private async Task<Published> PublishAsync(Target[] targets, double seconds, LatencyHistogram ackLatency, List<long>? rssSamples, int? killPid)
    {
        // With --retry each publisher's idempotency keys start with its index (then the message's timestamp): unique in the run.
        var publishers = Enumerable.Range(0, options.Publishers)
            .Select(i => (Target: targets[i % targets.Length], KeyPrefix: options.Retry ? $"bench-p{i}" : null))
            .Select(p => new Publisher(p.Target.Endpoint, p.Target.Host, options.Topic, options.ValueBytes, p.KeyPrefix) { AckLatency = ackLatency, Timeline = _timeline })
            .ToArray();
        double interval = options.Rate > 0 ? Stopwatch.Frequency * options.Publishers / options.Rate : 0;
        long startAt = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 100;
        long stopAt = startAt + (long)(seconds * Stopwatch.Frequency);
        using var sampling = new CancellationTokenSource();
        var sampler = rssSamples is null ? Task.CompletedTask : SampleRssAsync(rssSamples, sampling.Token);
        var kill = killPid is { } pid ? KillAsync(pid, startAt + (long)(options.KillAtSeconds * Stopwatch.Frequency)) : Task.FromResult<long?>(null);
        // Stagger paced publishers across one interval so a fixed rate arrives evenly, not in bursts of P.
        await Task.WhenAll(publishers.Select((publisher, i) => Task.Run(() => publisher.RunAsync(startAt + (long)(interval * i / Math.Max(1, publishers.Length)), stopAt, interval)))).ConfigureAwait(false);
        long end = Stopwatch.GetTimestamp();
        await sampling.CancelAsync().ConfigureAwait(false);
        await sampler.ConfigureAwait(false);
        return new Published(startAt, Seconds(end - startAt), publishers.Sum(p => p.Accepted), publishers.Sum(p => p.Rejected), publishers.Sum(p => p.Errors),
            publishers.Select(p => p.LastError).LastOrDefault(e => e is not null),
            [.. publishers.SelectMany(p => p.Acks ?? [])], publishers.Sum(p => p.Abandoned), await kill.ConfigureAwait(false));
    }

    /// <summary>kill -9 of <paramref name="pid"/> at <paramref name="at"/> (Stopwatch ticks); returns when the signal was sent.</summary>
    private static async Task<long?> KillAsync(int pid, long at)
    {
        long wait = at - Stopwatch.GetTimestamp();
        if (wait > 0) await Task.Delay(TimeSpan.FromSeconds(Seconds(wait))).ConfigureAwait(false);
        Process process;
        try
        {
            process = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            throw new InvalidOperationException($"--kill-pid {pid}: no such process");
        }
        using (process)
        {
            process.Kill(); // SIGKILL on Unix: no shutdown, no leaving the cluster
        }
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Waits until every live subscriber has <paramref name="accepted"/> messages, or nothing moves for a while; returns the seconds waited.</summary>
    private async Task<double> DrainAsync(SseSubscriber[] subscribers, DeliveryCounter deliveries, long accepted)
    {
        long drainStart = Stopwatch.GetTimestamp();
        long lastTotal = -1;
        long lastMove = drainStart;
        while (!subscribers.All(s => s.Closed || s.Received >= accepted))
        {
            long now = Stopwatch.GetTimestamp();
            long total = deliveries.Total;
            if (total != lastTotal)
            {
                lastTotal = total;
                lastMove = now;
            }
            if (Seconds(now - drainStart) > options.DrainSeconds || Seconds(now - lastMove) > Math.Min(3, options.DrainSeconds)) break;
            await Task.Delay(20).ConfigureAwait(false);
        }
        return Seconds(Stopwatch.GetTimestamp() - drainStart);
    }

    private async Task SampleRssAsync(List<long> samples, CancellationToken cancellationToken)
    {
        if (options.ServerPids.Count == 0) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Min(1, Math.Max(0.1, options.DurationSeconds / 10))));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (ProcessSample.Read(options.ServerPids) is { } sample) samples.Add(sample.RssKb);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Creates the topic on the first server, then waits until every server knows it (a cluster node applies the create from the log).</summary>
    private async Task EnsureTopicAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using (var response = await http.PostAsJsonAsync(new Uri(options.Url, "/topics"), new TopicRequest(options.Topic), BenchJsonContext.Default.TopicRequest).ConfigureAwait(false))
        {
            if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict or HttpStatusCode.OK))
            {
                throw new InvalidOperationException($"creating topic '{options.Topic}' failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync().ConfigureAwait(false)}");
            }
        }
        foreach (var url in options.Urls.Skip(1))
        {
            var info = new Uri(url, $"/topics/{Uri.EscapeDataString(options.Topic)}");
            long deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
            while (true)
            {
                using var response = await http.GetAsync(info).ConfigureAwait(false);
                if (response.IsSuccessStatusCode) break;
                if (Stopwatch.GetTimestamp() > deadline) throw new InvalidOperationException($"topic '{options.Topic}' did not appear on {url} within 10 s: {(int)response.StatusCode}");
                await Task.Delay(50).ConfigureAwait(false);
            }
        }
    }

    private static async Task<IPEndPoint> ResolveAsync(Uri url)
    {
        int port = url.IsDefaultPort ? 80 : url.Port;
        if (IPAddress.TryParse(url.Host, out var address)) return new IPEndPoint(address, port);
        var addresses = await Dns.GetHostAddressesAsync(url.Host).ConfigureAwait(false);
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.First();
        return new IPEndPoint(chosen, port);
    }

    private static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
}

internal sealed record TopicRequest(string name);

[System.Text.Json.Serialization.JsonSerializable(typeof(TopicRequest))]
internal sealed partial class BenchJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
