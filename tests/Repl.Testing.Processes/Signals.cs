using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Repl.Testing.Processes;

/// <summary>POSIX signals to a test's child process: what <see cref="Process"/> cannot send (SIGSTOP, SIGCONT, SIGTERM).</summary>
public static class Signals
{
    /// <summary>SIGTERM: what a supervisor sends; the process shuts down gracefully.</summary>
    public const int Terminate = 15;

    /// <summary>SIGSTOP: the process freezes with its sockets open.</summary>
    public const int Stop = 19;

    /// <summary>SIGCONT after <see cref="Stop"/>.</summary>
    public const int Continue = 18;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="process"/>, if it still runs.</summary>
    public static void Send(Process? process, int signal)
    {
        if (process is null || process.HasExited) return;
        if (Kill(process.Id, signal) != 0) throw new InvalidOperationException($"kill({process.Id}, {signal}) failed");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
