using System.Diagnostics;
using Repl.Testing.Processes;

namespace Repl.Bench.Crash;

/// <summary>
/// The damaged-journal phase: a host started on a <c>repl.db</c> that is not a database, and on a copy of the kill
/// cycles' journal with some of its pages overwritten, must exit with code 3 and one line naming the file, and
/// leave the file as it was (no crash loop, no stack trace, nothing "repaired" away).
/// </summary>
internal sealed class DamagedJournal(CrashOptions options, CrashReport report)
{
    private const string Phase = "damaged journal at start";

    public async Task RunAsync(string? journalToDamage)
    {
        var garbage = new byte[64 * 1024];
        new Random(7).NextBytes(garbage);
        await CheckAsync("not a database (64 KB of random bytes)", garbage);
        if (journalToDamage is not null && File.Exists(journalToDamage))
        {
            // The header page intact, pages 2–9 overwritten: SQLite opens the file and finds the damage when it reads.
            var damaged = await File.ReadAllBytesAsync(journalToDamage);
            if (damaged.Length > 10 * 4096)
            {
                new Random(11).NextBytes(damaged.AsSpan(4096, 8 * 4096));
                await CheckAsync($"pages 2–9 of a {damaged.Length / 1024} KB journal overwritten", damaged);
            }
        }
    }

    private async Task CheckAsync(string what, byte[] content)
    {
        string dataDir = Directory.CreateTempSubdirectory("repl-crash-damaged.").FullName;
        string file = Path.Combine(dataDir, "repl.db");
        await File.WriteAllBytesAsync(file, content);
        await using var host = CrashHost.Create(options, dataDir, ReplNodeProcess.FreePort());
        var started = Stopwatch.StartNew();
        await host.RestartAsync(waitReady: false);
        int? code = await host.ExitCodeWithinAsync(TimeSpan.FromSeconds(30));
        string output = host.OutputTail;
        report.Add(Phase, what, code is null ? "still running after 30 s" : $"exit {code} in {started.Elapsed.TotalSeconds:0.0} s: {output.Split('\n').LastOrDefault(l => l.Contains(file)) ?? output}");
        if (code != 3) report.Violation(Phase, $"{what}: expected exit code 3, got {(code is null ? "a running host" : code)}:\n{output}");
        else if (!output.Contains(file)) report.Violation(Phase, $"{what}: the error does not name {file}:\n{output}");
        var after = await File.ReadAllBytesAsync(file);
        if (!content.AsSpan().SequenceEqual(after)) report.Violation(Phase, $"{what}: the host changed the damaged file");
        Directory.Delete(dataDir, recursive: true);
    }
}
