namespace Repl.Cli;

/// <summary>The exit codes scripts can rely on.</summary>
internal static class ExitCodes
{
    /// <summary>Done as asked.</summary>
    public const int Ok = 0;

    /// <summary>The node answered with an error (its <c>{error, cause}</c> is printed), or a stream ended badly.</summary>
    public const int ServerError = 1;

    /// <summary>The command line is wrong (unknown option, missing argument, bad value).</summary>
    public const int Usage = 2;

    /// <summary>No node answered at the URL.</summary>
    public const int Unreachable = 3;

    /// <summary><c>tail --timeout</c> ran out before <c>--count</c> messages arrived (the convention of GNU <c>timeout</c>).</summary>
    public const int TimedOut = 124;

    /// <summary>Interrupted by Ctrl+C (128 + SIGINT).</summary>
    public const int Interrupted = 130;
}
