using System.Text;
using System.Text.Json;

namespace Repl.Bench.Crash;

/// <summary>The figures and violations of a crash run, by phase: a table for people, one JSON line for scripts.</summary>
internal sealed class CrashReport
{
    private readonly List<(string Phase, string Name, object Value)> _figures = [];

    public List<string> Violations { get; } = [];

    public List<string> Skipped { get; } = [];

    public bool Passed => Violations.Count == 0;

    public void Add(string phase, string name, object value) => _figures.Add((phase, name, value));

    /// <summary>One figure, as added; null when the phase did not get that far.</summary>
    public object? Figure(string phase, string name) => _figures.FirstOrDefault(f => f.Phase == phase && f.Name == name).Value;

    public void Violation(string phase, string what) => Violations.Add($"{phase}: {what}");

    public string ToTable()
    {
        var text = new StringBuilder();
        foreach (var phase in _figures.GroupBy(f => f.Phase))
        {
            text.AppendLine($"== {phase.Key}");
            foreach (var (_, name, value) in phase) text.AppendLine($"  {name,-34} {value}");
        }
        foreach (var skipped in Skipped) text.AppendLine($"skipped: {skipped}");
        text.AppendLine(Passed ? "PASS: 0 violations" : $"FAIL: {Violations.Count} violation(s)");
        foreach (var violation in Violations.Take(50)) text.AppendLine($"  {violation}");
        return text.ToString();
    }

    public string ToJson()
    {
        var phases = new Dictionary<string, object>();
        foreach (var phase in _figures.GroupBy(f => f.Phase)) phases[phase.Key] = phase.ToDictionary(f => f.Name, f => f.Value);
        return JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["scenario"] = "X1",
            ["passed"] = Passed,
            ["phases"] = phases,
            ["skipped"] = Skipped,
            ["violations"] = Violations,
        });
    }
}
