using Repl.Testing.Processes;

namespace Repl.Bench.Crash;

/// <summary>The standalone host a crash run starts, kills and starts again on the same port and data directory.</summary>
internal static class CrashHost
{
    /// <summary>The host of <paramref name="options"/> (its build, its CPUs) on <paramref name="dataDir"/> and <paramref name="port"/>; not started.</summary>
    public static ReplNodeProcess Create(CrashOptions options, string dataDir, int port) =>
        // Retention off: the run compares the journal with everything acknowledged, and a topic past the default's
        // 100,000 messages would lose its oldest to it (every 30 s: a long last stretch would see it).
        ReplNodeProcess.OfHost("crash", options.Host, dataDir, port, options.ServerCpu, "--Journal:MaxMessagesPerTopic", "0");
}
