using System.Text;

namespace Repl.Actors.Cluster.Etcd;

/// <summary>Key helpers for etcd's byte-ordered key space.</summary>
public static class EtcdKeys
{
    /// <summary>
    /// The <c>range_end</c> that selects every key starting with <paramref name="prefix"/>:
    /// the prefix with its last byte below 0xff incremented and the rest dropped.
    /// </summary>
    /// <remarks>
    /// An empty or all-0xff prefix has no such bound; etcd's convention is then
    /// <c>"\0"</c>, meaning "every key ≥ key".
    /// </remarks>
    public static byte[] PrefixEnd(ReadOnlySpan<byte> prefix)
    {
        for (var i = prefix.Length - 1; i >= 0; i--)
        {
            if (prefix[i] < 0xff)
            {
                var end = prefix[..(i + 1)].ToArray();
                end[i]++;
                return end;
            }
        }

        return [0];
    }

    /// <summary>The range end selecting every key starting with the UTF-8 <paramref name="prefix"/>.</summary>
    public static byte[] PrefixEnd(string prefix) => PrefixEnd(Encoding.UTF8.GetBytes(prefix));

    internal static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
