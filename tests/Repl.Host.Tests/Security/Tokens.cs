using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Repl.Host.Tests.Security;

/// <summary>Signs test tokens.</summary>
internal static class Tokens
{
    public const string Secret = "repl-test-secret-0123456789abcdef-0123456789abcdef";

    /// <summary>Settings for a node with HS256 auth on and no clock skew.</summary>
    public static string[] Settings(params string[] more) => ["--Auth:SigningKey", Secret, "--Auth:ClockSkew", "00:00:00", .. more];

    public static SigningCredentials Hs256(string secret = Secret) =>
        new(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256);

    /// <param name="publish">Patterns; a string[] becomes a JSON array claim, a string stays a string claim.</param>
    public static string Create(object? publish = null, object? subscribe = null, bool admin = false, TimeSpan? lifetime = null,
        string? subject = null, SigningCredentials? credentials = null, DateTime? expires = null, string? issuer = null, string? audience = null)
    {
        var claims = new Dictionary<string, object>();
        if (publish is not null) claims["repl.publish"] = publish;
        if (subscribe is not null) claims["repl.subscribe"] = subscribe;
        if (admin) claims["repl.admin"] = true;
        claims["sub"] = subject ?? "user-" + Guid.NewGuid().ToString("N")[..8];
        var end = expires ?? DateTime.UtcNow + (lifetime ?? TimeSpan.FromMinutes(10));
        var start = end.AddMinutes(-20) < DateTime.UtcNow.AddMinutes(-1) ? end.AddMinutes(-20) : DateTime.UtcNow.AddSeconds(-1);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            IssuedAt = start,
            NotBefore = start,
            Expires = end,
            Issuer = issuer,
            Audience = audience,
            SigningCredentials = credentials ?? Hs256(),
        });
    }

    public static string Expired(object? publish = null, object? subscribe = null) =>
        Create(publish, subscribe, expires: DateTime.UtcNow.AddMinutes(-5));

    public static string BadSignature(object? publish = null, object? subscribe = null) =>
        Create(publish, subscribe, credentials: Hs256("not-the-node-secret-0123456789abcdef-0123456789"));

    public static string RsaPublicPem(RSA rsa) => rsa.ExportSubjectPublicKeyInfoPem();
}
