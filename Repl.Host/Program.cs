using Repl.Host;

// `Repl.Host --probe URL`: a health probe for container images that have no curl.
if (args is ["--probe", var url])
{
    using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
    try
    {
        using var response = await client.GetAsync(url);
        return response.IsSuccessStatusCode ? 0 : 1;
    }
    catch (Exception)
    {
        return 1;
    }
}

try
{
    await ReplHost.Create(args).RunAsync();
    return 0;
}
catch (Repl.Host.Cluster.ClusterSettingsException wrong)
{
    Console.Error.WriteLine("repl: cannot start: " + wrong.Message);
    return 2;
}
catch (Repl.Actors.Journal.JournalDamagedException damaged)
{
    // One clear line, not a stack trace; a distinct exit code, so a supervisor can be told not to restart in a loop.
    Console.Error.WriteLine("repl: cannot start: " + damaged.Message);
    return 3;
}
