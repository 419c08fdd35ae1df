using Repl.Host;

await ReplHost.Build(args).RunAsync();
