namespace Repl.Host.Security;

/// <summary>What an endpoint needs from the caller's token.</summary>
internal enum Permission
{
    Subscribe,
    Publish,
    Admin,
}
