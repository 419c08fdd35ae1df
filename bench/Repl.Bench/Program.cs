using Repl.Bench;

if (args.Length > 0 && args[0] == "crash") return await Repl.Bench.Crash.CrashCommand.RunAsync(args);
if (args.Length > 0 && args[0] == "soak") return await Repl.Bench.Soak.SoakCommand.RunAsync(args);

if (args.Length > 0 && args[0] == "report")
{
    try
    {
        return ReportCommand.Run(args);
    }
    catch (Exception error) when (error is ArgumentException or IOException or System.Text.Json.JsonException)
    {
        Console.Error.WriteLine($"report failed: {error.Message}");
        return 2;
    }
}

return await BenchOptions.RunAsync(args, BenchOptions.Parse, BenchOptions.Usage, async options =>
{
    try
    {
        var result = await new LoadRun(options).RunAsync();
        if (!options.JsonOnly) Console.Error.Write(result.ToTable());
        Console.WriteLine(result.ToJson());
        return result.Failure is null ? 0 : 1;
    }
    catch (Exception error) when (error is HttpRequestException or System.Net.Sockets.SocketException or InvalidOperationException or TaskCanceledException)
    {
        Console.Error.WriteLine($"bench failed: {error.Message}");
        return 1;
    }
});
