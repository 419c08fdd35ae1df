using System.Diagnostics;
using Repl.Bench.Crash;

namespace Repl.Host.Tests.Node;

/// <summary>
/// The short version of the crash-consistency run (bench/README.md, X1), with the bench's own clients against a real
/// node process: kill -9 under publishing and resuming subscribers, and a full data disk. The journal, read back, must
/// hold every acknowledged publish, each once, and nothing no client sent; every subscriber gets all of it.
/// </summary>
public sealed class CrashConsistencyTests
{
    private static readonly string Host = Path.Combine(AppContext.BaseDirectory, "Repl.Host.dll");

    [Fact]
    public async Task ThreeKillNineCycles_UnderPublishing_LoseNoAcknowledgedPublish_DuplicateNothing_InventNothing()
    {
        var options = CrashOptions.Parse(["crash", "--host", Host, "--cycles", "3", "--publishers", "4", "--subscribers", "2", "--up", "0.5,1.5"]);
        var report = new CrashReport();
        string dataDir = TempDir.Create();

        await new KillCycles(options, report).RunAsync(dataDir);

        TempDir.Delete(dataDir);
        Assert.True(report.Passed, string.Join('\n', report.Violations));
        Assert.True(Convert.ToInt64(report.Figure(KillCycles.Phase, "acknowledged (201)")) > 0);
        Assert.Equal(0, report.Figure(KillCycles.Phase, "acknowledged lost"));
        Assert.Equal(0, report.Figure(KillCycles.Phase, "duplicated in the journal"));
        Assert.Equal(0, report.Figure(KillCycles.Phase, "phantom in the journal"));
        Assert.Equal(0, report.Figure(KillCycles.Phase, "missed by a subscriber"));
    }

    [MountFact]
    public async Task AFullDataDisk_Answers503SayingSo_RestartsWithEveryAcknowledgedPublish_AndPublishesAgainOnceSpaceReturns()
    {
        var options = CrashOptions.Parse(["crash", "--host", Host]);
        var report = new CrashReport();

        await new FullDisk(options, report).RunAsync();

        Assert.Empty(report.Skipped);
        Assert.True(report.Passed, string.Join('\n', report.Violations));
        Assert.True(Convert.ToInt32(report.Figure(FullDisk.Phase, "503 disk-full answers")) > 0);
        Assert.Equal(0, report.Figure(FullDisk.Phase, "other answers (must be 0)"));
        Assert.Equal(50, report.Figure(FullDisk.Phase, "publishes after recovery (of 50)"));
        Assert.Equal("0 / 0 / 0", report.Figure(FullDisk.Phase, "lost / duplicated / phantom"));
    }

    /// <summary>A fact that runs only where this process may mount a tmpfs (root with CAP_SYS_ADMIN), skipped with the reason elsewhere.</summary>
    private sealed class MountFactAttribute : FactAttribute
    {
        private static readonly Lazy<string?> Refusal = new(ProbeMount);

        public MountFactAttribute()
        {
            if (Refusal.Value is { } reason) Skip = $"a full disk needs a small tmpfs, and mounting one was refused here ({reason}); run as root to test it";
        }

        private static string? ProbeMount()
        {
            string dir = Directory.CreateTempSubdirectory("repl-mount-probe.").FullName;
            try
            {
                string? refused = Run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir);
                if (refused is null) Run("umount", dir);
                return refused;
            }
            finally
            {
                Directory.Delete(dir);
            }
        }

        private static string? Run(string file, params string[] args)
        {
            var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var arg in args) start.ArgumentList.Add(arg);
            try
            {
                using var process = Process.Start(start)!;
                string error = process.StandardError.ReadToEnd();
                process.WaitForExit();
                return process.ExitCode == 0 ? null : error.Trim();
            }
            catch (System.ComponentModel.Win32Exception error)
            {
                return error.Message;
            }
        }
    }
}
