using System.CommandLine;
using Repl.Host;

namespace Repl.Cli.Commands;

/// <summary><c>repl serve [node args...]</c>: runs a Repl node in this process, with the node's own arguments.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var command = new Command("serve", "Run a Repl node (arguments go to the node: --urls, --port, --data-dir, --in-memory, --config FILE, --Section:Key value)")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.Arguments.Add(new Argument<string[]>("node-args") { Description = "Arguments for the node", Arity = ArgumentArity.ZeroOrMore });
        // Only reached for `repl serve --help`: ReplCli runs the node before parsing so node arguments are never rewritten.
        command.SetAction(_ => ExitCodes.Ok);
        return command;
    }

    public static Command CreateLighthouse()
    {
        var command = new Command("lighthouse",
            "Run a lighthouse: a seed-only member of a Repl cluster that brokers join (CLUSTER_IP, CLUSTER_PORT (4053), CLUSTER_SEEDS or --cluster-ip, --cluster-port, --seeds; --urls for /healthz, /readyz, /cluster)")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.Arguments.Add(new Argument<string[]>("node-args") { Description = "Arguments for the node", Arity = ArgumentArity.ZeroOrMore });
        command.SetAction(_ => ExitCodes.Ok);
        return command;
    }

    public static async Task<int> RunNodeAsync(string[] nodeArgs, TextWriter stderr, CancellationToken cancellationToken)
    {
        try
        {
            using var app = ReplHost.Create(nodeArgs);
            await Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.RunAsync(app, cancellationToken).ConfigureAwait(false);
            return ExitCodes.Ok;
        }
        catch (Repl.Host.SettingsException wrong)
        {
            await stderr.WriteLineAsync($"error: the node could not start — {wrong.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (IOException exception)
        {
            // Kestrel's "address already in use" and journal files that cannot be opened.
            await stderr.WriteLineAsync($"error: the node could not start — {exception.Message}").ConfigureAwait(false);
            return ExitCodes.ServerError;
        }
    }
}
