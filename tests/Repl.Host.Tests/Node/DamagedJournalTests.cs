using Repl.Actors.Storage;

namespace Repl.Host.Tests.Node;

/// <summary>A damaged journal file stops the node at start with an error that names the file, and is left as it was.</summary>
public sealed class DamagedJournalTests
{
    [Fact]
    public void ANodeOnAFileThatIsNotAJournal_RefusesToStart_NamingTheFile()
    {
        string dataDir = TempDir.Create();
        string file = Path.Combine(dataDir, "repl.db");
        var garbage = new byte[64 * 1024];
        new Random(7).NextBytes(garbage);
        File.WriteAllBytes(file, garbage);

        var error = Assert.Throws<JournalDamagedException>(() => ReplHost.Build(["--urls", "http://127.0.0.1:0", "--data-dir", dataDir]));
        Assert.Equal(file, error.Path);
        Assert.Contains(file, error.Message);
        Assert.Equal(garbage, File.ReadAllBytes(file));
        TempDir.Delete(dataDir);
    }
}
