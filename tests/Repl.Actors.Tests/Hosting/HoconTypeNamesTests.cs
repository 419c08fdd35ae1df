using System.Text.RegularExpressions;

namespace Repl.Actors.Tests.Hosting;

/// <summary>
/// Akka creates the plugins the HOCON names (journals, snapshot stores, the lease, the serializer and the marker it is
/// bound to) by reflection, from a type name in a string: a type moved or renamed without its HOCON only fails when a
/// node starts. Each name must load, as the type Akka expects of it.
/// </summary>
public sealed partial class HoconTypeNamesTests
{
    [Theory]
    [InlineData("repl.hocon", new[] { "SqliteJournal", "SqliteSnapshotStore", "ReplSerializer", "IReplMessage" })]
    [InlineData("broker.hocon", new[] { "EtcdJournal", "EtcdSnapshotStore", "EtcdCoordinationLease" })]
    public void EveryReplTypeTheHoconNames_Loads(string file, string[] expected)
    {
        string hocon = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "hocon", file));
        var names = TypeName().Matches(hocon).Select(match => match.Groups[1].Value).Distinct().ToList();

        var loaded = names.Select(name => Type.GetType(name) ?? throw new Xunit.Sdk.XunitException($"{file} names {name}, which does not load")).ToList();

        Assert.Equal(expected.Order(), loaded.Select(type => type.Name).Distinct().Order());
        foreach (var type in loaded)
        {
            Assert.True(typeof(Akka.Persistence.Journal.WriteJournalBase).IsAssignableFrom(type) || typeof(Akka.Persistence.Snapshot.SnapshotStore).IsAssignableFrom(type)
                || typeof(Akka.Coordination.Lease).IsAssignableFrom(type) || typeof(Akka.Serialization.Serializer).IsAssignableFrom(type) || type.IsInterface,
                $"{type} is not a kind of plugin Akka creates from HOCON");
        }
    }

    // A quoted assembly-qualified name of one of Repl.Actors' types ("Namespace.Type, Repl.Actors"); comments name none.
    [GeneratedRegex("\"([A-Za-z0-9_.]+, Repl\\.Actors)\"")]
    private static partial Regex TypeName();
}
