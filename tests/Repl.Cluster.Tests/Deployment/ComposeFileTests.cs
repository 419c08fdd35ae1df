using System.Diagnostics;

namespace Repl.Cluster.Tests.Deployment;

/// <summary>docker/compose.yml stays valid (checked by docker-compose itself; no Docker engine needed).</summary>
public sealed class ComposeFileTests
{
    [Fact]
    public async Task ComposeFile_IsValid_AndDefinesThreeEtcdTwoLighthousesThreeNodesAndABalancer()
    {
        var dockerCompose = FindOnPath("docker-compose");
        if (dockerCompose is null)
        {
            // scripts/install-docker-compose.sh installs it (the build script runs it); nothing to check without it.
            return;
        }
        var root = RepositoryRoot();
        var start = new ProcessStartInfo(dockerCompose) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        foreach (var arg in new[] { "-f", Path.Combine(root, "docker", "compose.yml"), "config", "--services" }) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, $"docker-compose config failed: {await errors}");
        var services = (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order().ToArray();
        Assert.Equal(["etcd1", "etcd2", "etcd3", "lb", "lighthouse1", "lighthouse2", "repl1", "repl2", "repl3"], services);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "docker", "compose.yml"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException("docker/compose.yml not found above " + AppContext.BaseDirectory);
    }
}
