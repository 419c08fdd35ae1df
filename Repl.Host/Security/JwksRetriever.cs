using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Repl.Host.Security;

/// <summary>
/// Reads a bare JSON Web Key Set document (<c>Auth:JwksUrl</c>) into the configuration type JwtBearer consumes: an
/// <see cref="OpenIdConnectConfiguration"/> holding only signing keys (no discovery document is involved).
/// </summary>
internal sealed class JwksRetriever : IConfigurationRetriever<OpenIdConnectConfiguration>
{
    /// <exception cref="InvalidOperationException">The set holds no usable signing key (a fetch that must not replace the keys held).</exception>
    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
    {
        string json = await retriever.GetDocumentAsync(address, cancel).ConfigureAwait(false);
        var set = new JsonWebKeySet(json);
        var configuration = new OpenIdConnectConfiguration { JsonWebKeySet = set };
        foreach (var key in set.GetSigningKeys()) configuration.SigningKeys.Add(key);
        if (configuration.SigningKeys.Count == 0) throw new InvalidOperationException("the set holds no usable signing key");
        return configuration;
    }
}
