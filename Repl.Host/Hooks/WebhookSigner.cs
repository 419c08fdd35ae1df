using System.Security.Cryptography;

namespace Repl.Host.Hooks;

/// <summary>Signs hook calls the Standard Webhooks way (<c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature</c>).</summary>
/// <remarks>
/// The signature is <c>v1,</c> and the base64 HMAC-SHA256, under the secret's bytes, of <c>id.timestamp.body</c>
/// (timestamp in unix seconds). A backend checks it with any Standard Webhooks library, or in a few lines (README, "Hooks").
/// </remarks>
internal sealed class WebhookSigner(byte[] secret)
{
    /// <summary>How Standard Webhooks writes a secret: this prefix, then the base64 of its bytes.</summary>
    public const string SecretPrefix = "whsec_";

    /// <summary>Shortest secret accepted: HMAC-SHA256's own output length.</summary>
    public const int MinSecretBytes = 32;

    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";

    /// <summary>The <c>webhook-signature</c> value of a call: <c>v1,&lt;base64 HMAC-SHA256 of id.timestamp.body&gt;</c>.</summary>
    public string Sign(string id, long timestamp, ReadOnlySpan<byte> body)
    {
        string prefix = $"{id}.{timestamp}.";
        int prefixLength = System.Text.Encoding.UTF8.GetByteCount(prefix);
        byte[] content = System.Buffers.ArrayPool<byte>.Shared.Rent(prefixLength + body.Length);
        try
        {
            System.Text.Encoding.UTF8.GetBytes(prefix, content);
            body.CopyTo(content.AsSpan(prefixLength));
            Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
            HMACSHA256.HashData(secret, content.AsSpan(0, prefixLength + body.Length), mac);
            return "v1," + Convert.ToBase64String(mac);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(content);
        }
    }

    /// <summary>Adds the three headers to <paramref name="request"/> for <paramref name="body"/>.</summary>
    public void SignRequest(HttpRequestMessage request, string id, DateTimeOffset now, ReadOnlySpan<byte> body)
    {
        long timestamp = now.ToUnixTimeSeconds();
        request.Headers.TryAddWithoutValidation(IdHeader, id);
        request.Headers.TryAddWithoutValidation(TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation(SignatureHeader, Sign(id, timestamp, body));
    }
}
