namespace Repl.Host.Security;

/// <summary>
/// The streams admitted and not yet ended, on the node and per client address: <c>Limits:MaxStreams</c> and
/// <c>Limits:MaxStreamsPerIp</c>.
/// </summary>
/// <remarks>
/// A stream takes its slot when it is admitted, before its head is written, and gives it back when its request ends. A
/// stream counted only once its graph had started let a burst of requests in past the limit: the client already holds
/// an open stream (its head) while the graph has yet to start.
/// </remarks>
internal sealed class StreamSlots
{
    private readonly Dictionary<string, int> _perAddress = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private int _total;

    /// <summary>What <see cref="TryEnter"/> decided.</summary>
    public enum Entry { Entered, NodeFull, AddressFull }

    /// <summary>Counts a stream in, unless the node has <paramref name="maxTotal"/> (0: no limit) or the address <paramref name="maxPerAddress"/>.</summary>
    public Entry TryEnter(string address, int maxTotal, int maxPerAddress)
    {
        lock (_gate)
        {
            if (maxTotal > 0 && _total >= maxTotal) return Entry.NodeFull;
            _perAddress.TryGetValue(address, out int open);
            if (open >= maxPerAddress) return Entry.AddressFull;
            _perAddress[address] = open + 1;
            _total++;
            return Entry.Entered;
        }
    }

    public void Exit(string address)
    {
        lock (_gate)
        {
            if (!_perAddress.TryGetValue(address, out int open)) return;
            if (open <= 1) _perAddress.Remove(address);
            else _perAddress[address] = open - 1;
            _total--;
        }
    }
}
