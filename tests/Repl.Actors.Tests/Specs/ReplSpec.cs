using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.DependencyInjection;
using Microsoft.Extensions.DependencyInjection;
using Repl.Actors.Storage;
using ReplJournal = Repl.Actors.Storage.Journal;

namespace Repl.Actors.Tests.Specs;

/// <summary>
/// What every actor spec runs on: the engine's own HOCON (<c>hocon/repl.hocon</c>, linked into the output) under a few
/// spec settings, and an actor system whose services hold a real <see cref="Repl.Actors.Storage.Journal"/> (the SQLite
/// plugins resolve it from there, as they do in the host).
/// </summary>
internal static class ReplSpec
{
    /// <summary>
    /// Every message crosses the serializer even between local actors (<c>serialize-messages</c>), so a message that
    /// would fail on the wire fails here; creators are not serialized (props carry the journal and the registry).
    /// </summary>
    public const string SpecHocon = """
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          actor {
            serialize-messages = on
            serialize-creators = off
          }
          test.single-expect-default = 5s
        }
        """;

    /// <summary>One actor system, no remoting: the repl.hocon defaults with the local provider.</summary>
    public const string LocalHocon = "akka.actor.provider = local";

    /// <summary>The engine's HOCON as the host loads it.</summary>
    public static Config EngineConfig { get; } = ConfigurationFactory.ParseString(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "hocon", "repl.hocon")));

    /// <summary><paramref name="overrides"/> first, then the spec settings, then repl.hocon.</summary>
    public static Config Config(params string[] overrides)
    {
        var config = ConfigurationFactory.ParseString(SpecHocon).WithFallback(EngineConfig);
        for (int i = overrides.Length - 1; i >= 0; i--) config = ConfigurationFactory.ParseString(overrides[i]).WithFallback(config);
        return config;
    }

    /// <summary>An actor system setup whose dependency resolver holds <paramref name="journal"/>.</summary>
    public static ActorSystemSetup Setup(ReplJournal journal, Config config)
    {
        var services = new ServiceCollection().AddSingleton(journal).BuildServiceProvider();
        return BootstrapSetup.Create().WithConfig(config).And(DependencyResolverSetup.Create(services));
    }

    /// <summary>A started actor system (for specs with several) on <paramref name="journal"/>.</summary>
    public static ActorSystem System(string name, ReplJournal journal, Config config) => ActorSystem.Create(name, Setup(journal, config));
}

/// <summary>A real SQLite journal in a temp directory of its own, removed with it.</summary>
internal sealed class SpecJournal : IDisposable
{
    private SpecJournal(string dir, ReplJournal journal)
    {
        Dir = dir;
        Journal = journal;
    }

    public string Dir { get; }

    public ReplJournal Journal { get; private set; }

    public string DatabaseFile => Path.Combine(Dir, "repl.db");

    public static string NewDir() => Path.Combine(Path.GetTempPath(), "repl-specs", Guid.NewGuid().ToString("N"));

    /// <summary>A new, empty journal file.</summary>
    public static SpecJournal Create(int maxMessagesPerTopic = 0) => Open(NewDir(), maxMessagesPerTopic);

    /// <summary>The journal in <paramref name="dir"/> (created, or as an older version left it).</summary>
    public static SpecJournal Open(string dir, int maxMessagesPerTopic = 0) =>
        new(dir, Repl.Actors.Storage.Journal.Open(new JournalOptions { DataDir = dir, MaxMessagesPerTopic = maxMessagesPerTopic, MaxAge = TimeSpan.Zero }));

    public void Dispose()
    {
        Journal.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A pooled reader may still hold the file for a moment; the temp dir is the OS's to clean then.
        }
    }
}
