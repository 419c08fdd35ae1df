namespace Repl.Bench.Soak;

/// <summary><c>Repl.Bench soak</c>: subscriber churn and publishing against a running server, its resources sampled (bench/README.md, SOAK).</summary>
internal static class SoakCommand
{
    public static Task<int> RunAsync(string[] args) => BenchOptions.RunAsync(args, SoakOptions.Parse, SoakOptions.Usage, RunAsync);

    private static async Task<int> RunAsync(SoakOptions options)
    {
        try
        {
            return await new SoakRun(options).RunAsync();
        }
        catch (Exception error) when (error is HttpRequestException or InvalidOperationException or IOException)
        {
            Console.Error.WriteLine($"soak failed: {error.Message}");
            return 1;
        }
    }
}
