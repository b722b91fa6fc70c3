using System.Globalization;
using System.Text.Json;
using ScottPlot;

namespace Gateway.PerfPlots;

/// <summary>
/// <c>dotnet run --project perf/Gateway.PerfPlots -- RESULTS_DIR OUT_DIR</c>: reads every <c>*.json</c> that
/// <c>gateway bench --output</c> wrote into RESULTS_DIR and draws mpps-vs-bindings.png and mpps-vs-workers.png.
/// <c>… -- lab RESULT.json OUT_DIR</c>: draws lab-vs-kernel-tcp.png and lab-vs-kernel-udp.png from what
/// perf/lab-vs-kernel.sh wrote.
/// </summary>
internal static class Program
{
    private sealed record Run(string File, string FrameSize, int Bindings, int Workers, int Churn, bool Prefetch, double Mpps, double MppsPerCpu);

    public static int Main(string[] args)
    {
        if (args.Length == 3 && args[0] == "lab")
        {
            return LabPlots.Draw(args[1], args[2]);
        }
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: Gateway.PerfPlots RESULTS_DIR OUT_DIR | Gateway.PerfPlots lab RESULT.json OUT_DIR");
            return 2;
        }
        // The long run repeats a point of the size sweep for the GC figure; the plots take the sweep's.
        var runs = Directory.GetFiles(args[0], "*.json").Order(StringComparer.Ordinal).Select(Read)
            .Where(r => !r.File.StartsWith("long-", StringComparison.Ordinal)).ToList();
        if (runs.Count == 0)
        {
            Console.Error.WriteLine($"no *.json results in {args[0]}: run perf/run-figures.sh first.");
            return 1;
        }
        Directory.CreateDirectory(args[1]);

        // Mpps against table size: 1 worker, 64-byte frames, no churn; with and without batch prefetch.
        var sizePlot = new Plot();
        foreach (bool prefetch in new[] { true, false })
        {
            var points = runs.Where(r => r.FrameSize == "64" && r.Workers == 1 && r.Churn == 0 && r.Prefetch == prefetch)
                .OrderBy(r => r.Bindings).ToList();
            if (points.Count == 0)
            {
                continue;
            }
            string name = prefetch ? "batch + prefetch" : "frame by frame";
            var xs = points.Select(p => Math.Log10(p.Bindings)).ToArray();
            var wall = sizePlot.Add.Scatter(xs, points.Select(p => p.Mpps).ToArray());
            wall.LegendText = $"{name}: Mpps (wall clock)";
            var cpu = sizePlot.Add.Scatter(xs, points.Select(p => p.MppsPerCpu).ToArray());
            cpu.LegendText = $"{name}: Mpps per CPU-second of the worker";
            cpu.LinePattern = LinePattern.Dashed;
        }
        sizePlot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [3, 4, 5, 6, Math.Log10(4_000_000)], ["1K", "10K", "100K", "1M", "4M"]);
        sizePlot.Title("gateway bench: 1 worker, 64-byte frames, random bindings");
        sizePlot.XLabel("bindings in the table (log scale)");
        sizePlot.YLabel("million frames per second");
        sizePlot.Axes.SetLimitsY(0, sizePlot.Axes.GetLimits().Top * 1.1);
        sizePlot.ShowLegend(Alignment.UpperRight);
        string sizeFile = Path.Combine(args[1], "mpps-vs-bindings.png");
        sizePlot.SavePng(sizeFile, 900, 560);

        // Mpps against worker count: 64-byte frames, prefetch, per table size.
        var workerPlot = new Plot();
        foreach (var group in runs.Where(r => r.FrameSize == "64" && r.Churn == 0 && r.Prefetch).GroupBy(r => r.Bindings).OrderBy(g => g.Key))
        {
            var points = group.OrderBy(r => r.Workers).ToList();
            if (points.Select(p => p.Workers).Distinct().Count() < 2)
            {
                continue;
            }
            var xs = points.Select(p => (double)p.Workers).ToArray();
            var wall = workerPlot.Add.Scatter(xs, points.Select(p => p.Mpps).ToArray());
            wall.LegendText = $"{group.Key:N0} bindings: Mpps (wall clock)";
            var cpu = workerPlot.Add.Scatter(xs, points.Select(p => p.MppsPerCpu * p.Workers).ToArray());
            cpu.LegendText = $"{group.Key:N0} bindings: workers × Mpps per CPU-second";
            cpu.LinePattern = LinePattern.Dashed;
        }
        workerPlot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(1);
        workerPlot.Title("gateway bench: 64-byte frames, batch + prefetch");
        workerPlot.XLabel("worker threads (the machine has 2 cores)");
        workerPlot.YLabel("million frames per second");
        workerPlot.Axes.SetLimitsY(0, workerPlot.Axes.GetLimits().Top * 1.1);
        workerPlot.ShowLegend(Alignment.UpperLeft);
        string workerFile = Path.Combine(args[1], "mpps-vs-workers.png");
        workerPlot.SavePng(workerFile, 900, 560);

        string tableFile = Path.Combine(args[1], "bench-table.md");
        File.WriteAllText(tableFile, MarkdownTable(args[0]));

        Console.WriteLine($"wrote {sizeFile}, {workerFile} and {tableFile} from {runs.Count} runs");
        return 0;
    }

    /// <summary>Every run's headline figures as a Markdown table, for perf/README.md.</summary>
    private static string MarkdownTable(string dir)
    {
        var c = CultureInfo.InvariantCulture;
        var lines = new List<string>
        {
            "| run | frames | bindings | workers | churn/s | prefetch | Mpps (wall) | Gbps | worker CPU ns/frame | Mpps per CPU | on-CPU share | drops | impossible | GC 0/1/2 | B/frame | rebind seen (median) |",
            "|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|",
        };
        foreach (var file in Directory.GetFiles(dir, "*.json").Order(StringComparer.Ordinal))
        {
            using var json = JsonDocument.Parse(File.ReadAllText(file));
            var r = json.RootElement;
            string N(string name, string format) => r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble().ToString(format, c) : "n/a";
            lines.Add(string.Create(c,
                $"| {Path.GetFileNameWithoutExtension(file)} | {r.GetProperty("frameSize").GetString()} | {r.GetProperty("bindings").GetInt32():N0} | {r.GetProperty("workers").GetInt32()} | {r.GetProperty("churnRequested").GetInt32():N0} | {(r.GetProperty("prefetch").GetBoolean() ? "yes" : "no")} | {N("mpps", "F2")} | {N("gbps", "F2")} | {N("cpuNsPerFrame", "F1")} | {N("mppsPerCpu", "F2")} | {N("workerCpuShare", "P0")} | {N("dropped", "N0")} | {N("impossibleBindings", "N0")} | {N("gen0", "F0")}/{N("gen1", "F0")}/{N("gen2", "F0")} | {N("allocatedBytesPerFrame", "F3")} | {N("visibilityMedianNs", "N0")} ns |"));
        }
        return string.Join('\n', lines) + "\n";
    }

    private static Run Read(string file)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(file));
        var r = json.RootElement;
        double perCpu = r.TryGetProperty("mppsPerCpu", out var m) ? m.GetDouble() : double.NaN;
        return new Run(Path.GetFileName(file), r.GetProperty("frameSize").GetString()!, r.GetProperty("bindings").GetInt32(),
            r.GetProperty("workers").GetInt32(), r.GetProperty("churnRequested").GetInt32(), r.GetProperty("prefetch").GetBoolean(),
            r.GetProperty("mpps").GetDouble(), perCpu);
    }
}
