using Microsoft.Extensions.Options;
using Voting.Tally;

// The tally: a worker that follows the `votes` topic and publishes to `results`, plus a small page with live bars.
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddCommandLine(args, new Dictionary<string, string>
{
    ["--node"] = "Tally:Node",
    ["--votes"] = "Tally:Votes",
    ["--results"] = "Tally:Results",
    ["--options"] = "Tally:Options",
    ["--partial-every"] = "Tally:PartialEvery",
    ["--partial-interval"] = "Tally:PartialInterval",
    ["--hook-secret"] = "Tally:HookSecret",
});
if (builder.Configuration["urls"] is null) builder.WebHost.UseUrls("http://localhost:5080");
builder.Services.Configure<TallyOptions>(builder.Configuration.GetSection("Tally"));
builder.Services.AddSingleton(provider => new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) })
{
    BaseAddress = new Uri(provider.GetRequiredService<IOptions<TallyOptions>>().Value.Node),
    Timeout = Timeout.InfiniteTimeSpan,
});
builder.Services.AddSingleton<TallyService>();
builder.Services.AddHostedService(provider => provider.GetRequiredService<TallyService>());
builder.Logging.AddSimpleConsole(console => console.SingleLine = true).AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

var app = builder.Build();
app.UseDefaultFiles();
app.UseStaticFiles();
// What the page needs: where to subscribe, and the counts so far (partials are absolute, so a race with the stream is harmless).
app.MapGet("/state", (TallyService tally) => Results.Text(
    $"{{\"node\":{System.Text.Json.JsonSerializer.Serialize(tally.Options.Node)},\"results\":{System.Text.Json.JsonSerializer.Serialize(tally.Options.Results)},\"tally\":{tally.Snapshot()}}}",
    "application/json"));
// The publish hook for ballots (the node's Hooks:Publish = this /hooks/ballot, Hooks:Secret = --hook-secret): a ballot
// with no voter or an unknown option is refused before it is committed. Other topics (the results) pass.
if (builder.Configuration["Tally:HookSecret"] is { Length: > 0 } hookSecret)
{
    var verifier = new Hooks.Backend.WebhookVerifier(hookSecret, TimeProvider.System);
    app.MapPost("/hooks/ballot", (HttpContext context, TallyService tally) => BallotCheck.AnswerAsync(context, verifier, tally.Options));
}
app.Run();
