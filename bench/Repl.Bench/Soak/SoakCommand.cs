namespace Repl.Bench.Soak;

/// <summary><c>Repl.Bench soak</c>: subscriber churn and publishing against a running server, its resources sampled (bench/README.md, SOAK).</summary>
internal static class SoakCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        SoakOptions options;
        try
        {
            options = SoakOptions.Parse(args);
        }
        catch (BenchOptions.HelpRequested)
        {
            Console.WriteLine(SoakOptions.Usage);
            return 0;
        }
        catch (Exception error) when (error is ArgumentException or FormatException or UriFormatException)
        {
            Console.Error.WriteLine(error.Message);
            Console.Error.WriteLine(SoakOptions.Usage);
            return 2;
        }
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
