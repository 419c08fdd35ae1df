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

await ReplHost.Build(args).RunAsync();
return 0;
