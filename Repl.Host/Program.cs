using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Repl.Host;

// `Repl.Host --probe URL`: a health probe for container images that have no curl.
if (args is ["--probe", var url])
{
    using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
    try
    {
        using var response = await client.GetAsync(url);
        return response.IsSuccessStatusCode ? 0 : 1;
    }
    catch (Exception)
    {
        return 1;
    }
}

try
{
    await ReplHost.Create(args).RunAsync();
    return 0;
}
catch (Repl.Host.SettingsException wrong)
{
    Console.Error.WriteLine("repl: cannot start: " + wrong.Message);
    return 2;
}
catch (Repl.Actors.Storage.JournalDamagedException damaged)
{
    // One clear line, not a stack trace; a distinct exit code, so a supervisor can be told not to restart in a loop.
    Console.Error.WriteLine("repl: cannot start: " + damaged.Message);
    return 3;
}
catch (Exception error) when (CannotBind(error) is { } reason)
{
    // A port in use (or an address not on this machine): one line and a code of its own, not an unhandled exception,
    // which .NET ends with SIGABRT (exit 134) and a core dump.
    Console.Error.WriteLine("repl: cannot start: " + reason);
    return 4;
}
catch (Exception error)
{
    // Anything else that escapes the host still exits, with its trace, rather than aborting.
    Console.Error.WriteLine("repl: stopped: " + error);
    return 1;
}

// The one line to print when a listening socket could not be bound (Kestrel's HTTP address, or Akka remoting's port in
// cluster mode, deep in aggregates), else null.
static string? CannotBind(Exception error) => error switch
{
    // Kestrel's own: "Failed to bind to address http://127.0.0.1:9000: address already in use."
    IOException { InnerException: AddressInUseException } => error.Message,
    Akka.Remote.RemoteTransportException { InnerException: SocketException socket } =>
        $"{error.Message.Replace(" See InnerException for details.", "", StringComparison.Ordinal).TrimEnd('.')} (Akka remoting): {socket.Message}",
    SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse or SocketError.AddressNotAvailable or SocketError.AccessDenied } socket =>
        $"cannot listen on the node's address (--urls, --port, --cluster-port): {socket.Message}",
    AggregateException aggregate => aggregate.InnerExceptions.Select(CannotBind).FirstOrDefault(reason => reason is not null),
    { InnerException: { } inner } => CannotBind(inner),
    _ => null,
};
