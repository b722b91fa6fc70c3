using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Gateway.Bench;
using Gateway.Cli.Infrastructure;
using Gateway.DataPlane.Memory;
using Gateway.Io.Pcap;

namespace Gateway.Cli.Commands;

/// <summary><c>gateway bench</c>: whole-pipeline throughput of the translator over synthetic traffic.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "measure data-plane throughput").WithEpilog("""
            Translates synthetic Ethernet/IPv4 TCP and UDP frames (half inbound to a bound public address,
            half outbound from a bound private one, each frame's binding drawn at random from the table)
            in memory on worker threads, and prints the rate. Nothing is sent on any network.

            Each frame is restored from a pristine copy of its headers before it is translated, so every
            iteration is a real translation; the restore's own cost is measured alone and printed beside the figures.
            Exit 0 when the run completed with no frame translated through a binding that never existed, 1 otherwise.
            """);
        var frameSize = command.Define(CliSymbols.Choice("--frame-size", "frame size on the wire (imix = 64/594/1518 in the ratio 7:4:1)", "64",
            [("64", FrameSizeProfile.Min64), ("imix", FrameSizeProfile.Imix), ("1500", FrameSizeProfile.Max1518), ("IMIX", FrameSizeProfile.Imix), ("1518", FrameSizeProfile.Max1518)],
            shownChoices: 3));
        var bindings = command.Define(CliSymbols.Int("--bindings", "n", $"bindings in the table, 1 to {BenchAddresses.MaxBindings}", 1_000_000, 1, BenchAddresses.MaxBindings));
        var workers = command.Define(CliSymbols.Int("--workers", "n", "worker threads, each with its own frames and counters", 1, 1, 256));
        var churn = command.Define(CliSymbols.Int("--churn", "n", "rebinds per second by a writer thread while traffic flows", 0, 0, 10_000_000));
        var capMbps = command.Define(CliSymbols.Int("--cap-mbps", "n",
            "cap every binding at N Mbps each way and police every frame (the cost of caps set but not exceeded: pick N above what a binding gets; 0: no policer)", 0, 0, 100_000));
        var duration = command.Define(CliSymbols.Double("--duration", "seconds", "seconds measured", 10, 0.05, 86_400));
        var warmup = command.Define(CliSymbols.Double("--warmup", "seconds", "seconds translated before the clock starts", 1, 0, 3_600));
        var batch = command.Define(CliSymbols.Int("--batch", "n", "frames per batch", 32, 1, 1024));
        var noPrefetch = command.Define(CliSymbols.Flag("--no-prefetch", "translate frame by frame instead of TranslateEthernetBatch (which prefetches the batch's table slots first)"));
        var ring = command.Define(CliSymbols.Int("--ring", "n", "pre-built frames per worker (power of two)", 1 << 18, 1, 1 << 22));
        var seed = command.Define(CliSymbols.Int("--seed", "n", "traffic seed", 1, 0));
        var json = command.Define(CliSymbols.Flag("--json", "print the figures as one JSON object on stdout"));
        var output = command.Define(CliSymbols.Text("--output", "file", "also write that JSON object to FILE (atomically)", kind: ValueKind.File));
        var noProgress = command.Define(CliSymbols.Flag("--no-progress", "no progress line on stderr"));
        var hugePages = command.Define(CliSymbols.Choice("--huge-pages",
            "2 MiB pages for the index and counters: hugetlbfs pages when reserved, else transparent ones (auto); transparent only (thp); none (off). The figures say what the kernel gave",
            "auto", [("auto", HugePagePolicy.Auto), ("thp", HugePagePolicy.Transparent), ("off", HugePagePolicy.Off)]));
        command.SetRun(p => Run(new ThroughputBenchOptions
        {
            FrameSize = p.GetValue(frameSize),
            Bindings = p.GetValue(bindings),
            Workers = p.GetValue(workers),
            ChurnPerSecond = p.GetValue(churn),
            CapMbps = p.GetValue(capMbps),
            Duration = TimeSpan.FromSeconds(p.GetValue(duration)),
            Warmup = TimeSpan.FromSeconds(p.GetValue(warmup)),
            BatchSize = p.GetValue(batch),
            RingFrames = p.GetValue(ring),
            Seed = (ulong)p.GetValue(seed),
            Prefetch = !p.GetValue(noPrefetch),
        }, p.GetValue(json), p.GetValue(output), p.GetValue(noProgress), p.GetValue(hugePages)));
        return command;
    }

    private static int Run(ThroughputBenchOptions options, bool json, string? output, bool noProgress, HugePagePolicy hugePages)
    {
        LargePageMemory.Policy = hugePages;
        if (!int.IsPow2(options.RingFrames) || options.RingFrames < options.BatchSize)
        {
            throw new UsageException($"--ring must be a power of two no smaller than --batch ({options.BatchSize}), not {options.RingFrames}.");
        }

        var progress = noProgress ? null : new ProgressLine(Console.Error);
        if (progress != null)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"gateway bench: building {options.Bindings:N0} bindings and {options.Workers} × {options.RingFrames:N0} frames..."));
        }
        var result = ThroughputBench.Run(options, progress == null ? null : progress.Report);
        progress?.Done();

        string cpu = CpuModel();
        string jsonText = ToJson(result, cpu);
        if (output != null)
        {
            WriteAtomically(output, jsonText + "\n");
        }
        if (json)
        {
            Console.Out.WriteLine(jsonText);
        }
        else
        {
            result.WriteText(Console.Out);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"machine     {Environment.ProcessorCount} CPUs, {cpu}, .NET {Environment.Version}"));
        }
        if (result.ImpossibleBindings != 0)
        {
            Console.Error.WriteLine($"gateway bench: {result.ImpossibleBindings} frame(s) were translated with a binding that never existed: the binding table tore an entry. This is a bug; please report it with the command line above.");
            return ExitCodes.Failure;
        }
        return ExitCodes.Ok;
    }

    internal static string ToJson(ThroughputBenchResult result, string? cpu)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            result.WriteJson(writer, cpu);
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteAtomically(string path, string text)
    {
        try
        {
            OutputFile.WriteAllText(path, text);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FailureException($"cannot write {Path.GetFullPath(path)}: {e.Message} Check that the folder exists and is writable.", e);
        }
    }

    /// <summary>The CPU model from /proc/cpuinfo, for the record next to the figures.</summary>
    private static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal))
                {
                    return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return "unknown CPU";
    }

    /// <summary>One line on stderr, rewritten in place on a terminal; one line a second when redirected.</summary>
    private sealed class ProgressLine(TextWriter writer)
    {
        private readonly bool _terminal = !Console.IsErrorRedirected;
        private double _lastPrinted = -1;

        public void Report(BenchProgress p)
        {
            string text = string.Create(CultureInfo.InvariantCulture,
                $"  {(p.Warmup ? "warm-up" : "measure")} {p.Seconds,5:F1}/{p.TotalSeconds:F1} s  {p.Mpps,8:F2} Mpps  {p.Frames,14:N0} frames");
            if (_terminal)
            {
                writer.Write("\r" + text + "   ");
            }
            else if (p.Seconds - _lastPrinted >= 1 || p.Seconds >= p.TotalSeconds)
            {
                writer.WriteLine(text);
                _lastPrinted = p.Seconds;
            }
        }

        public void Done()
        {
            if (_terminal)
            {
                writer.WriteLine();
            }
        }
    }
}
