namespace Repl.Testing.Processes;

public static class TempDir
{
    public static string Create()
    {
        var path = Path.Combine(Path.GetTempPath(), "repl-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    public static void Delete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
