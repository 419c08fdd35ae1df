namespace Repl.Bench.Crash;

/// <summary><c>Repl.Bench crash</c>: the kill -9 cycles, the SIGTERM cycles, the full disk and the damaged journals, one report (bench/README.md, X1, X2).</summary>
internal static class CrashCommand
{
    public static Task<int> RunAsync(string[] args) => BenchOptions.RunAsync(args, CrashOptions.Parse, CrashOptions.Usage, RunAsync);

    private static async Task<int> RunAsync(CrashOptions options)
    {
        var report = new CrashReport();
        string dataDir = options.DataDir ?? Directory.CreateTempSubdirectory("repl-crash.").FullName;
        try
        {
            if (options.Kill)
            {
                Say(options, $"== kill -9 cycles: {options.Cycles}, data in {dataDir}");
                await new KillCycles(options, report).RunAsync(dataDir);
            }
            if (options.SigtermCycles > 0)
            {
                Say(options, $"== SIGTERM cycles: {options.SigtermCycles}, data in {dataDir}");
                await new KillCycles(options, report, sigterm: true).RunAsync(dataDir);
            }
            if (options.FullDisk)
            {
                Say(options, "== full disk");
                await new FullDisk(options, report).RunAsync();
            }
            if (options.Damaged)
            {
                Say(options, "== damaged journal at start");
                await new DamagedJournal(options, report).RunAsync(Path.Combine(dataDir, "repl.db"));
            }
        }
        finally
        {
            if (options.DataDir is null) Directory.Delete(dataDir, recursive: true);
        }
        if (!options.JsonOnly) Console.Error.Write(report.ToTable());
        Console.WriteLine(report.ToJson());
        return report.Passed ? 0 : 1;
    }

    private static void Say(CrashOptions options, string line)
    {
        if (!options.JsonOnly) Console.Error.WriteLine(line);
    }
}
