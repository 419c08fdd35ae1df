using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Repl.Bench.Soak;

/// <summary>
/// One subscriber that never stays: connects a raw socket, asks for the SSE stream (a quarter of the time resuming from
/// an older position, so the catch-up from the journal is churned too), reads for a while, and leaves — half the time
/// with a FIN, half with a RST, as a closed browser tab or a dropped phone would — then again.
/// </summary>
internal sealed class Churner(Uri url, string topic, Func<long> head, SoakRun.Counters counters)
{
    public async Task RunAsync(CancellationToken stop)
    {
        var buffer = new byte[4096];
        var endpoint = new IPEndPoint(IPAddress.Parse(url.Host), url.Port);
        while (!stop.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            bool reset = Random.Shared.Next(2) == 0;
            try
            {
                await socket.ConnectAsync(endpoint, stop);
                long from = head();
                string resume = Random.Shared.Next(4) == 0 && from > 0 ? $"Last-Event-ID: {Math.Max(0, from - Random.Shared.Next(1, 500))}\r\n" : "";
                await socket.SendAsync(Encoding.ASCII.GetBytes(
                    $"GET /topics/{topic}/sse HTTP/1.1\r\nHost: {url.Authority}\r\nAccept: text/event-stream\r\n{resume}\r\n"), stop);
                Interlocked.Increment(ref counters.Connects);
                using var hold = CancellationTokenSource.CreateLinkedTokenSource(stop);
                hold.CancelAfter(TimeSpan.FromMilliseconds(Random.Shared.Next(200, 4000)));
                while (true)
                {
                    int read = await socket.ReceiveAsync(buffer, hold.Token);
                    if (read == 0) break;
                    Interlocked.Add(ref counters.Bytes, read);
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (SocketException)
            {
                Interlocked.Increment(ref counters.ConnectFailures);
                await Task.Delay(100, CancellationToken.None);
            }
            if (reset) socket.LingerState = new LingerOption(true, 0);
            else if (socket.Connected)
            {
                try
                {
                    socket.Shutdown(SocketShutdown.Both);
                }
                catch (SocketException)
                {
                }
            }
        }
    }
}
