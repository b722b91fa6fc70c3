using System.Globalization;
using System.Text;
using Gateway.Control.Hosting;

namespace Gateway.WebConsole.Charts;

/// <summary>
/// The last hour of an instance's traffic as an SVG line chart drawn on the server: inbound and outbound rate in
/// Mbit/s per metering period, on a time axis from an hour ago to now. No script and no inline style: geometry in
/// SVG attributes, colours from the stylesheet's classes, so the page keeps its Content-Security-Policy.
/// </summary>
internal sealed class TrafficChart
{
    public const int Width = 720;
    public const int Height = 220;
    public const int Left = 56;
    public const int Right = 12;
    public const int Top = 12;
    public const int Bottom = 28;
    public static readonly TimeSpan Span = TimeSpan.FromHours(1);

    private TrafficChart(string inbound, string outbound, double scaleMbps, IReadOnlyList<(double Y, string Label)> yTicks, IReadOnlyList<(double X, string Label)> xTicks, double peakIn, double peakOut, long bytesIn, long bytesOut, int points)
    {
        InboundPoints = inbound;
        OutboundPoints = outbound;
        ScaleMbps = scaleMbps;
        YTicks = yTicks;
        XTicks = xTicks;
        PeakInboundMbps = peakIn;
        PeakOutboundMbps = peakOut;
        InboundBytes = bytesIn;
        OutboundBytes = bytesOut;
        PointCount = points;
    }

    /// <summary>The SVG <c>points</c> of the inbound line ("x,y x,y ...").</summary>
    public string InboundPoints { get; }

    public string OutboundPoints { get; }

    /// <summary>The rate at the top of the plot.</summary>
    public double ScaleMbps { get; }

    public IReadOnlyList<(double Y, string Label)> YTicks { get; }

    public IReadOnlyList<(double X, string Label)> XTicks { get; }

    public double PeakInboundMbps { get; }

    public double PeakOutboundMbps { get; }

    public long InboundBytes { get; }

    public long OutboundBytes { get; }

    public int PointCount { get; }

    public static string Format(double mbps) => mbps.ToString(mbps >= 100 ? "0" : mbps >= 10 ? "0.0" : "0.00", CultureInfo.InvariantCulture);

    public static TrafficChart Of(IReadOnlyList<TrafficPoint> points, DateTimeOffset now)
    {
        var start = now - Span;
        var shown = points.Where(p => p.Start >= start && p.Start <= now && p.Period > TimeSpan.Zero).OrderBy(p => p.Start).ToList();
        double peakIn = shown.Count == 0 ? 0 : shown.Max(p => Mbps(p.InboundBytes, p.Period));
        double peakOut = shown.Count == 0 ? 0 : shown.Max(p => Mbps(p.OutboundBytes, p.Period));
        double scale = NiceCeiling(Math.Max(peakIn, peakOut));
        double plotWidth = Width - Left - Right;
        double plotHeight = Height - Top - Bottom;

        string Line(Func<TrafficPoint, long> bytes)
        {
            var text = new StringBuilder();
            foreach (var p in shown)
            {
                // Each period is drawn at its end: the rate is known once the period is over.
                double x = Left + (plotWidth * Math.Clamp((p.Start + p.Period - start) / Span, 0, 1));
                double y = Top + plotHeight - (plotHeight * Math.Min(1, Mbps(bytes(p), p.Period) / scale));
                text.Append(CultureInfo.InvariantCulture, $"{x:0.#},{y:0.#} ");
            }
            return text.ToString().TrimEnd();
        }

        var yTicks = new List<(double, string)>();
        for (int n = 0; n <= 4; n++)
        {
            yTicks.Add((Top + plotHeight - (plotHeight * n / 4), Format(scale * n / 4)));
        }
        var xTicks = new List<(double, string)>();
        for (int minutes = 60; minutes >= 0; minutes -= 15)
        {
            xTicks.Add((Left + (plotWidth * (60 - minutes) / 60), minutes == 0 ? "now" : $"-{minutes.ToString(CultureInfo.InvariantCulture)} min"));
        }
        return new TrafficChart(Line(p => p.InboundBytes), Line(p => p.OutboundBytes), scale, yTicks, xTicks, peakIn, peakOut,
            shown.Sum(p => p.InboundBytes), shown.Sum(p => p.OutboundBytes), shown.Count);
    }

    private static double Mbps(long bytes, TimeSpan period) => bytes * 8 / period.TotalSeconds / 1_000_000;

    /// <summary>1, 2 or 5 times a power of ten, at least the peak (and at least 0.01 Mbit/s, so an idle hour has an axis).</summary>
    internal static double NiceCeiling(double peak)
    {
        double value = Math.Max(peak, 0.01);
        double power = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (double step in (double[])[1, 2, 5, 10])
        {
            if (step * power >= value * 0.999999)
            {
                return step * power;
            }
        }
        return 10 * power;
    }
}
