using Microsoft.Extensions.Configuration;
using Repl.Host.Cluster;

namespace Repl.Host.Tests.Cluster;

/// <summary>Lighthouse's conventions (CLUSTER_IP, CLUSTER_PORT, CLUSTER_SEEDS, ACTORSYSTEM) and their switches, read as a node starts.</summary>
public sealed class AkkaClusterSettingsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] settings) =>
        // Later pairs win, as a later configuration source does.
        new ConfigurationBuilder().AddInMemoryCollection(settings.DistinctBy(s => s.Key).Select(s => new KeyValuePair<string, string?>(s.Key, settings.Last(t => t.Key == s.Key).Value))).Build();

    [Fact]
    public void Lighthouse_WithNothingSet_ListensOn4053AndSeedsItself()
    {
        var settings = AkkaClusterSettings.From(Config(("Node:Role", "lighthouse")), clusterMode: true);
        Assert.Equal("lighthouse", settings.Role);
        Assert.Equal(4053, settings.Port);
        Assert.Equal(["akka.tcp://repl@127.0.0.1:4053"], settings.Seeds);
    }

    [Fact]
    public void Lighthouse_AddsItselfAfterTheGivenSeeds_Once()
    {
        var settings = AkkaClusterSettings.From(Config(("Node:Role", "lighthouse"), ("CLUSTER_IP", "lh2"), ("CLUSTER_PORT", "4054"),
            ("CLUSTER_SEEDS", "akka.tcp://repl@lh1:4053, akka.tcp://repl@lh2:4054")), clusterMode: true);
        Assert.Equal(["akka.tcp://repl@lh1:4053", "akka.tcp://repl@lh2:4054"], settings.Seeds);
        Assert.Equal("lh2", settings.PublicHostname);
        Assert.Equal("lh2", settings.Hostname);
    }

    [Fact]
    public void Switches_WinOverTheEnvironmentConventions()
    {
        var settings = AkkaClusterSettings.From(Config(("CLUSTER_PORT", "1"), ("Cluster:Port", "5001"), ("CLUSTER_SEEDS", "akka.tcp://repl@a:1"),
            ("Cluster:Seeds", "akka.tcp://repl@b:2"), ("Cluster:BindIp", "0.0.0.0")), clusterMode: true);
        Assert.Equal(5001, settings.Port);
        Assert.Equal(["akka.tcp://repl@b:2"], settings.Seeds);
        Assert.Equal("0.0.0.0", settings.Hostname);
        Assert.Equal("127.0.0.1", settings.PublicHostname);
    }

    [Fact]
    public void ClusterBroker_WithoutSeeds_RefusesToStart()
    {
        var error = Assert.Throws<SettingsException>(() => AkkaClusterSettings.From(Config(), clusterMode: true));
        Assert.Contains("CLUSTER_SEEDS", error.Message);
    }

    [Fact]
    public void ClusterBroker_WithoutPort_TakesAFreeOne()
    {
        var settings = AkkaClusterSettings.From(Config(("CLUSTER_SEEDS", "akka.tcp://repl@lh:4053")), clusterMode: true);
        Assert.Equal(("broker", 0, "127.0.0.1"), (settings.Role, settings.Port, settings.Hostname));
    }

    [Theory]
    [InlineData("ACTORSYSTEM", "lighthouse")]
    [InlineData("CLUSTER_SEEDS", "akka.tcp://other@lh:4053")]
    [InlineData("CLUSTER_SEEDS", "lh:4053")]
    [InlineData("CLUSTER_SEEDS", "akka.tcp://repl@lh")]
    [InlineData("CLUSTER_PORT", "http")]
    [InlineData("Node:Role", "sequencer")]
    public void WrongSetting_RefusesToStart_NamingIt(string key, string value)
    {
        var error = Assert.Throws<SettingsException>(() => AkkaClusterSettings.From(Config(("CLUSTER_SEEDS", "akka.tcp://repl@lh:4053"), (key, value)), clusterMode: true));
        Assert.Contains(value.Split(':')[0], error.Message);
    }

    [Fact]
    public void Standalone_IsLoopbackOnAFreePort_AndRefusesSeeds()
    {
        var settings = AkkaClusterSettings.From(Config(), clusterMode: false);
        Assert.Equal(("broker", "127.0.0.1", 0), (settings.Role, settings.Hostname, settings.Port));
        Assert.Empty(settings.Seeds);
        Assert.Throws<SettingsException>(() => AkkaClusterSettings.From(Config(("CLUSTER_SEEDS", "akka.tcp://repl@lh:4053")), clusterMode: false));
    }
}
