using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Repl.Host.Api;

namespace Repl.Host.Security;

/// <summary>
/// Decides a <see cref="TopicRequirement"/>: the caller's grants (<see cref="Grants"/>) must cover every topic the request
/// names, or the matching anonymous switch (<c>Auth:AnonymousPublish</c>, <c>Auth:AnonymousSubscribe</c>) be on.
/// </summary>
/// <remarks>
/// The resource is the request (<see cref="HttpContext"/>) when the authorization middleware asks, or one topic name
/// (<see cref="string"/>) when an endpoint filters what it shows (<c>GET /topics</c>). A refusal's reason becomes the 403's
/// <c>cause</c> (<see cref="AuthorizationResultWriter"/>).
/// </remarks>
internal sealed class TopicRequirementHandler(IOptions<AuthOptions> options, LimitsOptions limits) : AuthorizationHandler<TopicRequirement>
{
    private readonly AuthOptions _auth = options.Value;

    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, TopicRequirement requirement)
    {
        var request = context.Resource as HttpContext;
        // 404 and 405 carry an endpoint that is not a route (or none) and meet the fallback policy: let them answer.
        if (!_auth.Enabled || (request is not null && request.GetEndpoint() is not RouteEndpoint))
        {
            context.Succeed(requirement);
            return;
        }
        bool anonymous = requirement.Permission switch
        {
            Permission.Publish => _auth.AnonymousPublish,
            Permission.Subscribe => _auth.AnonymousSubscribe,
            _ => false,
        };
        if (context.User.Identity?.IsAuthenticated != true)
        {
            // A token that was sent and refused is a 401 even where none is needed: its holder should learn it is bad.
            // AuthenticateAsync returns the result the authentication middleware already computed for this request.
            if (anonymous && (request is null || (await request.AuthenticateAsync()).Failure is null)) context.Succeed(requirement);
            return;
        }
        var grants = Grants.From(context.User);
        if (grants.Admin || anonymous)
        {
            context.Succeed(requirement);
            return;
        }
        if (requirement.Permission == Permission.Admin)
        {
            context.Fail(new AuthorizationFailureReason(this, $"this route needs a token with \"{Grants.AdminClaim}\": true"));
            return;
        }
        string[] topics = context.Resource switch
        {
            string topic => [topic],
            HttpContext http => await TopicNames.ReadAsync(http, requirement.Source, limits.MaxBodyBytes),
            _ => [],
        };
        if (topics.FirstOrDefault(topic => !grants.Allows(requirement.Permission, topic)) is { } denied)
        {
            string claim = requirement.Permission == Permission.Publish ? Grants.PublishClaim : Grants.SubscribeClaim;
            context.Fail(new AuthorizationFailureReason(this, $"the token does not grant {requirement.Name} on topic '{denied}' (claim {claim})"));
            return;
        }
        context.Succeed(requirement);
    }
}
