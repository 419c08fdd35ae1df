namespace Repl.Host.Security;

/// <summary>Open streams per client address, for <c>Limits:MaxStreamsPerIp</c>.</summary>
internal sealed class StreamsPerIp
{
    private readonly Dictionary<string, int> _open = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Counts a stream in; false (and nothing counted) when the address already has <paramref name="max"/>.</summary>
    public bool TryEnter(string address, int max)
    {
        lock (_gate)
        {
            _open.TryGetValue(address, out int open);
            if (open >= max) return false;
            _open[address] = open + 1;
            return true;
        }
    }

    public void Exit(string address)
    {
        lock (_gate)
        {
            if (!_open.TryGetValue(address, out int open)) return;
            if (open <= 1) _open.Remove(address);
            else _open[address] = open - 1;
        }
    }

    public int Count(string address)
    {
        lock (_gate) return _open.GetValueOrDefault(address);
    }
}
