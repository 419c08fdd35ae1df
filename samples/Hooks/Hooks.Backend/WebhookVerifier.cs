using System.Security.Cryptography;
using System.Text;

namespace Hooks.Backend;

/// <summary>
/// Checks a Standard Webhooks signature, as Repl signs its hook calls: <c>webhook-signature: v1,&lt;base64 HMAC-SHA256 of
/// "id.timestamp.body"&gt;</c> under the shared secret (<c>whsec_&lt;base64&gt;</c>: its bytes; any other text: its UTF-8
/// bytes). The libraries of the scheme (standardwebhooks on NuGet, npm, PyPI) do the same.
/// </summary>
internal sealed class WebhookVerifier(string secret, TimeProvider time)
{
    /// <summary>How far a call's timestamp may be from now: an older call may be a replay.</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private readonly byte[] _key = secret.StartsWith("whsec_", StringComparison.Ordinal)
        ? Convert.FromBase64String(secret["whsec_".Length..])
        : Encoding.UTF8.GetBytes(secret);

    /// <summary>True when the call was signed with the secret within <see cref="Tolerance"/>.</summary>
    public bool Verify(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        string id = headers["webhook-id"].ToString();
        string timestamp = headers["webhook-timestamp"].ToString();
        if (id.Length == 0 || !long.TryParse(timestamp, out long seconds)) return false;
        if ((time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > Tolerance) return false;
        byte[] signed = [.. Encoding.UTF8.GetBytes($"{id}.{timestamp}."), .. body];
        byte[] expected = Encoding.ASCII.GetBytes("v1," + Convert.ToBase64String(HMACSHA256.HashData(_key, signed)));
        // Several signatures may come, space separated (while a secret is rotated); one that matches is enough.
        foreach (var signature in headers["webhook-signature"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(signature), expected)) return true;
        }
        return false;
    }
}
