using System.Globalization;
using System.Text.Json;
using ScottPlot;

namespace Gateway.PerfPlots;

/// <summary>The side-by-side lab figures of perf/lab-vs-kernel.sh: TCP throughput per path, and 64-byte UDP loss against offered rate.</summary>
internal static class LabPlots
{
    public static int Draw(string resultFile, string outDir)
    {
        if (!File.Exists(resultFile))
        {
            Console.Error.WriteLine($"no {resultFile}: run perf/lab-vs-kernel.sh first.");
            return 1;
        }
        using var json = JsonDocument.Parse(File.ReadAllText(resultFile));
        var root = json.RootElement;
        var paths = root.GetProperty("paths").EnumerateObject().Select(p => (Name: p.Name, Value: p.Value)).ToList();
        Directory.CreateDirectory(outDir);
        var palette = new ScottPlot.Palettes.Category10();
        string when = root.GetProperty("generated").GetString() ?? "";

        // TCP: four cases (1 and 4 streams, in and out), one bar per path in each.
        string[] cases = ["in/1", "out/1", "in/4", "out/4"];
        var tcp = new Plot();
        var bars = new List<Bar>();
        double width = 0.8 / Math.Max(1, paths.Count);
        for (int c = 0; c < cases.Length; c++)
        {
            string direction = cases[c].Split('/')[0];
            int streams = int.Parse(cases[c].Split('/')[1], CultureInfo.InvariantCulture);
            for (int p = 0; p < paths.Count; p++)
            {
                double? gbps = paths[p].Value.GetProperty("tcp").EnumerateArray()
                    .Where(t => t.GetProperty("direction").GetString() == direction && t.GetProperty("streams").GetInt32() == streams)
                    .Select(t => t.GetProperty("gbps").ValueKind == JsonValueKind.Number ? t.GetProperty("gbps").GetDouble() : (double?)null)
                    .FirstOrDefault();
                if (gbps is not { } value)
                {
                    continue;
                }
                bars.Add(new Bar
                {
                    Position = c + (p - (paths.Count - 1) / 2.0) * width,
                    Value = value,
                    Size = width * 0.9,
                    FillColor = palette.GetColor(p),
                    Label = value.ToString("F1", CultureInfo.InvariantCulture),
                });
            }
        }
        var barPlot = tcp.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 11;
        for (int p = 0; p < paths.Count; p++)
        {
            tcp.Legend.ManualItems.Add(new LegendItem { LabelText = paths[p].Name, FillColor = palette.GetColor(p) });
        }
        tcp.Axes.Bottom.SetTicks([0, 1, 2, 3], ["1 stream into the VPC", "1 stream out", "4 streams in", "4 streams out"]);
        tcp.Axes.Margins(bottom: 0);
        tcp.Title($"iperf3 TCP through the lab, side by side ({when})");
        tcp.YLabel("Gbit/s");
        tcp.ShowLegend(Alignment.UpperLeft);
        string tcpFile = Path.Combine(outDir, "lab-vs-kernel-tcp.png");
        tcp.SavePng(tcpFile, 900, 520);

        // UDP: loss against offered rate, one line per path.
        var udp = new Plot();
        double maxLoss = 0;
        for (int p = 0; p < paths.Count; p++)
        {
            var points = paths[p].Value.GetProperty("udp64").EnumerateArray()
                .Where(u => u.GetProperty("offeredPps").ValueKind == JsonValueKind.Number && u.GetProperty("lossPercent").ValueKind == JsonValueKind.Number)
                .Select(u => (Offered: u.GetProperty("offeredPps").GetDouble() / 1000, Loss: u.GetProperty("lossPercent").GetDouble()))
                .OrderBy(u => u.Offered)
                .ToList();
            if (points.Count == 0)
            {
                continue;
            }
            maxLoss = Math.Max(maxLoss, points.Max(x => x.Loss));
            var line = udp.Add.Scatter(points.Select(x => x.Offered).ToArray(), points.Select(x => x.Loss).ToArray());
            line.LegendText = paths[p].Name;
            line.Color = palette.GetColor(p);
            line.MarkerSize = 8;
        }
        udp.Title("64-byte UDP through the lab: loss at each offered rate");
        udp.XLabel("offered rate (thousand frames per second, as the generator achieved it)");
        udp.YLabel("frames lost (%)");
        udp.Axes.AutoScale();
        udp.Axes.SetLimitsY(-2, Math.Max(10, maxLoss * 1.1));
        udp.ShowLegend(Alignment.UpperLeft);
        string udpFile = Path.Combine(outDir, "lab-vs-kernel-udp.png");
        udp.SavePng(udpFile, 900, 520);

        Console.WriteLine($"wrote {tcpFile} and {udpFile} from {resultFile}");
        return 0;
    }
}
