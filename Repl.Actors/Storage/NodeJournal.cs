using Akka.Actor;
using Akka.DependencyInjection;

namespace Repl.Actors.Storage;

/// <summary>The node's journal as the actors that persist through it find it.</summary>
internal static class NodeJournal
{
    /// <summary>The node's journal, from the actor system's services (Akka.Hosting puts the host's provider there).</summary>
    public static Journal Of(ActorSystem system) =>
        DependencyResolver.For(system).Resolver.GetService<Journal>()
        ?? throw new InvalidOperationException("no Repl journal among the actor system's services");
}
