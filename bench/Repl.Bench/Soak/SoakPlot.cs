using System.Globalization;
using System.Text;

namespace Repl.Bench.Soak;

/// <summary>The soak's samples as a small SVG: RSS, open fds and threads over time, one panel each, thirds marked.</summary>
internal static class SoakPlot
{
    private const int Width = 720, PanelHeight = 150, Left = 70, Right = 20, Top = 40, Gap = 40;

    public static string Svg(IReadOnlyList<ResourceSample> samples, SoakOptions options, long connects)
    {
        var panels = new (string Title, Func<ResourceSample, double> Value, string Unit)[]
        {
            ("RSS", s => s.RssKb / 1024.0, "MB"),
            ("open file descriptors", s => s.Fds, ""),
            ("threads", s => s.Threads, ""),
        };
        int height = Top + panels.Length * (PanelHeight + Gap);
        double end = Math.Max(1, samples.Count == 0 ? 1 : samples[^1].Seconds);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{height}" font-family="sans-serif" font-size="11">""").Append('\n');
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="{Width}" height="{height}" fill="white"/><text x="{Left}" y="20" font-size="13">Repl soak: {options.Churners} churning subscribers ({connects:N0} connects), {options.Rate:0} publishes/s, {end / 60:0.0} min</text>""").Append('\n');
        for (int p = 0; p < panels.Length; p++)
        {
            var (title, value, unit) = panels[p];
            int y0 = Top + p * (PanelHeight + Gap);
            double max = samples.Count == 0 ? 1 : samples.Max(value);
            double top = max <= 0 ? 1 : max * 1.15;
            double X(double seconds) => Left + seconds / end * (Width - Left - Right);
            double Y(double v) => y0 + PanelHeight - v / top * PanelHeight;
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left}" y="{y0 - 6}" font-weight="bold">{title}{(unit.Length > 0 ? $" ({unit})" : "")}</text>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{Left}" y="{y0}" width="{Width - Left - Right}" height="{PanelHeight}" fill="none" stroke="#999"/>""");
            foreach (double share in new[] { 1 / 3.0, 2 / 3.0 })
                svg.Append(CultureInfo.InvariantCulture, $"""<line x1="{X(end * share):0.0}" y1="{y0}" x2="{X(end * share):0.0}" y2="{y0 + PanelHeight}" stroke="#ccc" stroke-dasharray="4 3"/>""");
            foreach (double tick in new[] { 0, top / 2, top })
                svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Left - 6}" y="{Y(tick) + 4:0.0}" text-anchor="end">{tick:0.#}</text>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{Width - Right}" y="{y0 + PanelHeight + 14}" text-anchor="end">{end / 60:0.0} min</text><text x="{Left}" y="{y0 + PanelHeight + 14}">0</text>""");
            svg.Append("<polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"1.5\" points=\"");
            foreach (var sample in samples) svg.Append(CultureInfo.InvariantCulture, $"{X(sample.Seconds):0.0},{Y(value(sample)):0.0} ");
            svg.Append("\"/>\n");
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }
}
