namespace Repl.Host.Tests.Hooks;

/// <summary>Hook settings that cannot work stop the node at start, with one line and exit code 2.</summary>
public sealed class HookSettingsTests
{
    private const string GoodSecret = "0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData("Hooks:Subscribe 'not a url' is not an absolute http:// or https:// URL", "--Hooks:Subscribe", "not a url", "--Hooks:Secret", GoodSecret)]
    [InlineData("Hooks:Publish 'ftp://127.0.0.1/p' is not an absolute http:// or https:// URL", "--Hooks:Publish", "ftp://127.0.0.1/p", "--Hooks:Secret", GoodSecret)]
    [InlineData("Hooks:Secret is not set", "--Hooks:Subscribe", "http://127.0.0.1:8080/s")]
    [InlineData("Hooks:Secret is 5 bytes: it must be at least 32", "--Hooks:Subscribe", "http://127.0.0.1:8080/s", "--Hooks:Secret", "short")]
    [InlineData("Hooks:Secret is 3 bytes", "--Hooks:Subscribe", "http://127.0.0.1:8080/s", "--Hooks:Secret", "whsec_AAAA")]
    [InlineData("Hooks:Secret starts with whsec_ but what follows is not base64", "--Hooks:Subscribe", "http://127.0.0.1:8080/s", "--Hooks:Secret", "whsec_***")]
    [InlineData("Hooks:Subscribe 'http://backend.example/s' is plain http:// to another machine", "--Hooks:Subscribe", "http://backend.example/s", "--Hooks:Secret", GoodSecret)]
    [InlineData("Hooks:Timeout is 00:00:00: it must be a positive time span", "--Hooks:Publish", "http://localhost/p", "--Hooks:Secret", GoodSecret, "--Hooks:Timeout", "0")]
    [InlineData("Hooks:MaxInFlight is 0: it must be at least 1", "--Hooks:Publish", "http://localhost/p", "--Hooks:Secret", GoodSecret, "--Hooks:MaxInFlight", "0")]
    public void ASettingThatCannotWork_StopsTheNode_WithOneLineNamingIt(string message, params string[] settings)
    {
        var wrong = Assert.Throws<SettingsException>(() => ReplHost.Build(["--urls", "http://127.0.0.1:0", "--in-memory", .. settings]));
        Assert.StartsWith(message, wrong.Message);
    }

    [Fact]
    public void PlainHttpToAnotherMachine_IsFine_WithoutCookieOrAuthorization()
    {
        var app = ReplHost.Build(["--urls", "http://127.0.0.1:0", "--in-memory", "--Hooks:Subscribe", "http://backend.example/s",
            "--Hooks:Secret", GoodSecret, "--Hooks:ForwardHeaders", "X-Session"]);
        Assert.NotNull(app);
    }

    [Fact]
    public async Task ANodeWithABadHookUrl_ExitsWithCode2()
    {
        await using var node = await ReplNodeProcess.LaunchAsync("bad-hook", ReplNodeProcess.FreePort(), "--Hooks:Subscribe", "backend/subscribe",
            "--Hooks:Secret", GoodSecret);
        Assert.True(await node.ExitsWithinAsync(TimeSpan.FromSeconds(90)), node.OutputTail);
        Assert.True(node.ExitCode == 2, $"exit code {node.ExitCode}:\n{node.OutputTail}");
        Assert.Equal(["repl: cannot start: Hooks:Subscribe 'backend/subscribe' is not an absolute http:// or https:// URL"], node.ErrorLines);
    }
}
