using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace Repl.Host.Security;

/// <summary>The keys and algorithms of the key settings read at start: <c>Auth:SigningKey</c>, <c>Auth:KeyFile</c>, <c>Auth:JwksFile</c>.</summary>
/// <remarks>
/// The accepted algorithms follow the key kind, so an HS256 token can never verify against a public key; a key set,
/// from a file or <c>Auth:JwksUrl</c>, may hold keys of either kind.
/// </remarks>
internal static class SigningKeys
{
    private static readonly string[] Symmetric = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.HmacSha384, SecurityAlgorithms.HmacSha512];

    private static readonly string[] Asymmetric =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    /// <summary>Whether any of Repl's key settings is set.</summary>
    public static bool Configured(AuthOptions options) =>
        !string.IsNullOrEmpty(options.SigningKey) || !string.IsNullOrEmpty(options.KeyFile) || !string.IsNullOrEmpty(options.JwksFile) || !string.IsNullOrEmpty(options.JwksUrl);

    /// <summary>The keys read from the settings, and the algorithms they (and a <c>Auth:JwksUrl</c> set) may sign with.</summary>
    /// <exception cref="InvalidOperationException">A key is unusable: too short, private, or a file with none.</exception>
    public static (List<SecurityKey> Keys, string[] Algorithms) Read(AuthOptions options)
    {
        var keys = new List<SecurityKey>();
        var algorithms = new List<string>();
        if (!string.IsNullOrEmpty(options.SigningKey))
        {
            var secret = Encoding.UTF8.GetBytes(options.SigningKey);
            if (secret.Length < 32) throw new InvalidOperationException("Auth:SigningKey must be at least 32 bytes (256 bits) for HS256");
            keys.Add(new SymmetricSecurityKey(secret));
            algorithms.AddRange(Symmetric);
        }
        if (!string.IsNullOrEmpty(options.KeyFile))
        {
            keys.AddRange(ReadPem(File.ReadAllText(options.KeyFile), options.KeyFile));
            algorithms.AddRange(Asymmetric);
        }
        if (!string.IsNullOrEmpty(options.JwksFile))
        {
            var signing = new JsonWebKeySet(File.ReadAllText(options.JwksFile)).GetSigningKeys();
            if (signing.Count == 0) throw new InvalidOperationException($"Auth:JwksFile '{options.JwksFile}' holds no usable signing key");
            keys.AddRange(signing);
        }
        if (!string.IsNullOrEmpty(options.JwksFile) || !string.IsNullOrEmpty(options.JwksUrl))
        {
            algorithms.AddRange(Symmetric);
            algorithms.AddRange(Asymmetric);
        }
        return (keys, [.. algorithms.Distinct()]);
    }

    /// <summary>Every public key in a PEM file: <c>PUBLIC KEY</c> (RSA or EC), <c>RSA PUBLIC KEY</c>, or <c>CERTIFICATE</c>.</summary>
    private static List<SecurityKey> ReadPem(string text, string path)
    {
        var keys = new List<SecurityKey>();
        var rest = text.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            var block = rest[fields.Location].ToString();
            var label = rest[fields.Label].ToString();
            rest = rest[fields.Location.End..];
            if (label == "CERTIFICATE")
            {
                keys.Add(new X509SecurityKey(X509Certificate2.CreateFromPem(block)));
                continue;
            }
            if (label.Contains("PRIVATE", StringComparison.Ordinal)) throw new InvalidOperationException($"Auth:KeyFile '{path}' holds a private key; give the node only the public key");
            try
            {
                var rsa = RSA.Create();
                rsa.ImportFromPem(block);
                keys.Add(new RsaSecurityKey(rsa));
            }
            catch (CryptographicException)
            {
                var ecdsa = ECDsa.Create();
                ecdsa.ImportFromPem(block);
                keys.Add(new ECDsaSecurityKey(ecdsa));
            }
        }
        if (keys.Count == 0) throw new InvalidOperationException($"Auth:KeyFile '{path}' holds no PEM public key");
        return keys;
    }
}
