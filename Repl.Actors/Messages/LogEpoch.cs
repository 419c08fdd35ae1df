using System.Globalization;
using System.Text;

namespace Repl.Actors.Messages;

/// <summary>
/// A log's identity: 8 hex digits drawn when the log is created (standalone: in the journal; cluster: in etcd), the
/// same on every node that applies it. Stream ids are <c>position@epoch</c>, so a <c>Last-Event-ID</c> from another
/// log (a wiped data directory, another cluster) is recognised instead of resuming at a position that means nothing here.
/// </summary>
public readonly record struct LogEpoch
{
    private LogEpoch(string text)
    {
        Text = text;
        Utf8 = Encoding.ASCII.GetBytes(text);
    }

    public string Text { get; }

    /// <summary>The epoch as it goes on the wire, for frames built once.</summary>
    public byte[] Utf8 { get; }

    public static LogEpoch New() => Of((uint)Random.Shared.NextInt64(1, uint.MaxValue));

    public static LogEpoch Of(uint value) => new(value.ToString("x8", CultureInfo.InvariantCulture));

    /// <summary>Reads an epoch written by <see cref="Text"/>; false for anything else.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out LogEpoch epoch)
    {
        epoch = default;
        if (text.Length != 8 || !uint.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint value)) return false;
        epoch = Of(value);
        return true;
    }

    public bool Equals(LogEpoch other) => Text == other.Text;

    public override int GetHashCode() => Text?.GetHashCode(StringComparison.Ordinal) ?? 0;

    public override string ToString() => Text;
}
