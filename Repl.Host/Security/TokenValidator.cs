using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Repl.Host.Security;

/// <summary>Finds a request's bearer token and validates it against the configured keys.</summary>
internal sealed class TokenValidator : IDisposable
{
    private static readonly string[] Symmetric = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.HmacSha384, SecurityAlgorithms.HmacSha512];

    private static readonly string[] Asymmetric =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    private readonly JsonWebTokenHandler _handler = new();
    private readonly TokenValidationParameters? _parameters;
    private readonly JwksSource? _jwks;

    public TokenValidator(IOptions<AuthOptions> options, ILogger<TokenValidator> logger)
    {
        Options = options.Value;
        if (!string.IsNullOrEmpty(Options.JwksUrl)) _jwks = new JwksSource(Options.JwksUrl, Options.JwksRefresh, logger);
        if (Options.Enabled) _parameters = Parameters(Options, _jwks);
    }

    public AuthOptions Options { get; }

    public bool Enabled => _parameters is not null;

    /// <summary>The token from <c>Authorization: Bearer</c>, <c>?access_token=</c> or the cookie, in that order.</summary>
    public string? Find(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header[7..].Trim() is { Length: > 0 } bearer) return bearer;
        if (context.Request.Query["access_token"].ToString() is { Length: > 0 } query) return query;
        if (context.Request.Cookies[Options.Cookie] is { Length: > 0 } cookie) return cookie;
        return null;
    }

    /// <summary>Validates a token; returns its grants, or why it was refused.</summary>
    public async Task<(Grants? Grants, string? Refusal)> ValidateAsync(string token)
    {
        if (_parameters is null) throw new InvalidOperationException("authorization is off");
        if (token.Length > 16 * 1024) return (null, "the token is too long");
        var result = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        // A key id the node does not hold: the provider may have rotated its keys since the last fetch.
        if (result.Exception is SecurityTokenSignatureKeyNotFoundException && _jwks is not null && NamesAKey(token) && await _jwks.RefreshForUnknownKeyAsync().ConfigureAwait(false))
        {
            result = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        }
        if (!result.IsValid) return (null, Describe(result.Exception));
        var expires = result.SecurityToken.ValidTo == DateTime.MinValue ? (DateTimeOffset?)null : new DateTimeOffset(result.SecurityToken.ValidTo, TimeSpan.Zero);
        return (Grants.From(result.ClaimsIdentity, expires), null);
    }

    private static string Describe(Exception? error) => error switch
    {
        SecurityTokenExpiredException expired => $"the token expired at {expired.Expires:O}",
        SecurityTokenNotYetValidException early => $"the token is not valid before {early.NotBefore:O}",
        SecurityTokenNoExpirationException => "the token has no expiry (exp); this node requires one (Auth:RequireExpiry)",
        SecurityTokenInvalidSignatureException or SecurityTokenSignatureKeyNotFoundException => "the token's signature does not verify with this node's keys",
        SecurityTokenInvalidAlgorithmException => "the token's signing algorithm is not accepted",
        SecurityTokenInvalidIssuerException => "the token's issuer (iss) is not accepted",
        SecurityTokenInvalidAudienceException => "the token's audience (aud) is not accepted",
        SecurityTokenMalformedException or ArgumentException => "the token is not a well-formed JWT",
        _ => "the token is not valid",
    };

    public void Dispose() => _jwks?.Dispose();

    private bool NamesAKey(string token) => _handler.CanReadToken(token) && _handler.ReadJsonWebToken(token).Kid is { Length: > 0 };

    private static TokenValidationParameters Parameters(AuthOptions options, JwksSource? jwks)
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
            var set = new JsonWebKeySet(File.ReadAllText(options.JwksFile));
            var signing = set.GetSigningKeys();
            if (signing.Count == 0) throw new InvalidOperationException($"Auth:JwksFile '{options.JwksFile}' holds no usable signing key");
            keys.AddRange(signing);
        }
        // A key set, from a file or a URL, may hold keys of either kind.
        if (!string.IsNullOrEmpty(options.JwksFile) || jwks is not null)
        {
            algorithms.AddRange(Symmetric);
            algorithms.AddRange(Asymmetric);
        }
        return new TokenValidationParameters
        {
            IssuerSigningKeys = keys,
            // The fetched keys change while the node runs: read them at each validation.
            IssuerSigningKeyResolver = jwks is null ? null : (_, _, _, _) => [.. keys, .. jwks.Keys],
            ValidAlgorithms = algorithms.Distinct().ToArray(),
            ValidateIssuer = !string.IsNullOrEmpty(options.Issuer),
            ValidIssuer = options.Issuer,
            ValidateAudience = !string.IsNullOrEmpty(options.Audience),
            ValidAudience = options.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = options.RequireExpiry,
            RequireSignedTokens = true,
            ClockSkew = options.ClockSkew,
        };
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
                keys.Add(new X509SecurityKey(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(block)));
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
