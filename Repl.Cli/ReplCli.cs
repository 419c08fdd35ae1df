using System.CommandLine;
using System.CommandLine.Help;
using Repl.Cli.Api;
using Repl.Cli.Commands;

namespace Repl.Cli;

/// <summary>The <c>repl</c> command line: parses, runs one command, and maps every outcome to an <see cref="ExitCodes">exit code</see>.</summary>
internal sealed class ReplCli
{
    /// <summary>The command's name in help and usage, as installed by <c>dotnet tool install</c> (<c>ToolCommandName</c>).</summary>
    public const string CommandName = "repl";

    private readonly TextWriter _stdout;
    private readonly TextWriter _stderr;
    private readonly bool _plain;
    private readonly GlobalOptions _global;

    /// <param name="stdout">Where data goes (tests pass a <see cref="StringWriter"/>).</param>
    /// <param name="stderr">Where errors and notes go.</param>
    /// <param name="environment">Reads environment variables (REPL_URL, REPL_TOKEN, NO_COLOR).</param>
    public ReplCli(TextWriter? stdout = null, TextWriter? stderr = null, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        _stdout = stdout ?? Console.Out;
        _stderr = stderr ?? Console.Error;
        _plain = stdout is not null || Console.IsOutputRedirected || environment("NO_COLOR") is { Length: > 0 };
        _global = new GlobalOptions(environment);
    }

    /// <summary>Runs the command line. <paramref name="handleSignals"/>: Ctrl+C cancels the command (a real process only).</summary>
    public async Task<int> RunAsync(string[] args, bool handleSignals = false, CancellationToken cancellationToken = default)
    {
        // `repl serve ...` hands every following argument to the node untouched (--urls, --in-memory, --Section:Key value).
        if (args is ["serve", .. var nodeArgs] && !nodeArgs.Any(arg => arg is "-h" or "--help" or "-?"))
        {
            return await ServeCommand.RunNodeAsync(nodeArgs, _stderr, cancellationToken).ConfigureAwait(false);
        }
        // `repl lighthouse ...`: the same, as a seed-only member (Repl.Host --role lighthouse).
        if (args is ["lighthouse", .. var lighthouseArgs] && !lighthouseArgs.Any(arg => arg is "-h" or "--help" or "-?"))
        {
            return await ServeCommand.RunNodeAsync(["--role", "lighthouse", .. lighthouseArgs], _stderr, cancellationToken).ConfigureAwait(false);
        }
        var root = BuildRoot();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) await _stderr.WriteLineAsync($"error: {error.Message}").ConfigureAwait(false);
            await _stderr.WriteLineAsync("Run 'repl --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        var configuration = new InvocationConfiguration { Output = _stdout, Error = _stderr };
        if (!handleSignals) configuration.ProcessTerminationTimeout = null;
        return await parsed.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }

    /// <remarks>
    /// A <see cref="Command"/> named <see cref="CommandName"/> with the options a <see cref="RootCommand"/> would add, rather
    /// than a <see cref="RootCommand"/>: that one is named after the running file, which is <c>Repl.Cli</c> under
    /// <c>dotnet run</c> and inside the tool's package, so help would not say the name people type.
    /// </remarks>
    internal Command BuildRoot()
    {
        var root = new Command(CommandName, "repl: run a Repl node, publish, tail topics, list topics, inspect the cluster, benchmark.")
        {
            new HelpOption(),
            new VersionOption(),
        };
        _global.AddTo(root);
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(ServeCommand.CreateLighthouse());
        root.Subcommands.Add(PublishCommand.Create(this));
        root.Subcommands.Add(TailCommand.Create(this));
        root.Subcommands.Add(TopicsCommand.Create(this));
        root.Subcommands.Add(ClusterCommand.Create(this));
        root.Subcommands.Add(BenchCommand.Create(this));
        return root;
    }

    /// <summary>Runs a command's body against the node named by <c>--url</c>, turning failures into exit codes.</summary>
    internal async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken, Func<CommandContext, Task<int>> body)
    {
        var output = new CliOutput(_stdout, _stderr, parsed.GetValue(_global.Json), _plain);
        string url = parsed.GetValue(_global.Url) ?? GlobalOptions.DefaultUrl;
        if (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
        {
            output.Error("invalid --url", $"'{url}' is not an http:// or https:// URL");
            return ExitCodes.Usage;
        }
        using var api = new ReplApi(baseAddress, parsed.GetValue(_global.Token));
        try
        {
            return await body(new CommandContext(api, output, cancellationToken)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        catch (ServerErrorException error)
        {
            output.Error(error.Error, error.Cause, error.Status);
            return ExitCodes.ServerError;
        }
        catch (NodeUnreachableException unreachable)
        {
            output.Error($"cannot reach a Repl node at {unreachable.Url}", unreachable.Reason);
            return ExitCodes.Unreachable;
        }
        catch (UsageException usage)
        {
            output.Error("usage", usage.Message);
            return ExitCodes.Usage;
        }
        finally
        {
            await _stdout.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }
}
