namespace Repl.Host.Metrics;

/// <summary>The names OpenTelemetry is told to listen to, and the latency buckets every duration histogram shares.</summary>
internal static class ReplTelemetry
{
    /// <summary>The host's meter (made by <see cref="System.Diagnostics.Metrics.IMeterFactory"/>) and activity source.</summary>
    public const string Name = "Repl";

    /// <summary>The engine's meter (<see cref="Repl.Actors.Log.EngineTelemetry"/>, from the node's <see cref="System.Diagnostics.Metrics.IMeterFactory"/> too).</summary>
    public const string EngineMeter = Repl.Actors.Log.EngineTelemetry.MeterName;

    public const string CommitInstrument = "repl.commit.duration";

    /// <summary>
    /// Upper bounds in seconds, 100 µs to 10 s, roughly ×2.5 apart: a commit takes ~0.1–5 ms here, a publish a little
    /// more. OpenTelemetry's default bounds (0–10000) are meant for milliseconds and would put every sample in one bucket.
    /// </summary>
    public static readonly double[] LatencyBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
}
