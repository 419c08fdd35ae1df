namespace Repl.Cli.Api;

/// <summary>The node answered a request with an error status and (usually) its JSON <c>{error, cause}</c>.</summary>
internal sealed class ServerErrorException(int status, string error, string cause)
    : Exception($"{status} {error}: {cause}")
{
    public int Status { get; } = status;

    public string Error { get; } = error;

    public string Cause { get; } = cause;
}
