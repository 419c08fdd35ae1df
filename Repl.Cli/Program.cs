using Repl.Cli;

return await new ReplCli().RunAsync(args, handleSignals: true);
