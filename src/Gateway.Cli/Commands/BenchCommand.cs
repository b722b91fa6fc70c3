using System.Globalization;
using System.Text;
using System.Text.Json;
using Gateway.Cli.Infrastructure;
using Gateway.DataPlane.Bench;
using Gateway.Io.Pcap;

namespace Gateway.Cli.Commands;

/// <summary><c>gateway bench</c>: whole-pipeline throughput of the translator over synthetic traffic.</summary>
internal static class BenchCommand
{
    private const string Usage = """
        usage: gateway bench [options]

        Translates synthetic Ethernet/IPv4 TCP and UDP frames (half inbound to a bound public address,
        half outbound from a bound private one, each frame's binding drawn at random from the table)
        in memory on worker threads, and prints the rate. Nothing is sent on any network.

          --frame-size 64|imix|1500   frame size on the wire (imix = 64/594/1518 in the ratio 7:4:1); default 64
          --bindings N                bindings in the table, 1 to 4194304; default 1000000
          --workers N                 worker threads, each with its own frames and counters; default 1
          --churn N                   rebinds per second by a writer thread while traffic flows; default 0
          --cap-mbps N                cap every binding at N Mbps each way and police every frame (the cost of
                                      caps set but not exceeded: pick N above what a binding gets); default 0, none
          --duration S                seconds measured; default 10
          --warmup S                  seconds translated before the clock starts; default 1
          --batch N                   frames per batch; default 32
          --no-prefetch               translate frame by frame instead of TranslateEthernetBatch (which
                                      prefetches the batch's table slots first)
          --ring N                    pre-built frames per worker (power of two); default 262144
          --seed N                    traffic seed; default 1
          --json                      print the figures as one JSON object on stdout
          --output FILE               also write that JSON object to FILE (atomically)
          --no-progress               no progress line on stderr

        Each frame is restored from a pristine copy of its headers before it is translated, so every
        iteration is a real translation; the restore's own cost is measured alone and printed beside the figures.
        Exit 0 when the run completed with no frame translated through a binding that never existed, 1 otherwise.
        """;

    public static int Run(ArgReader args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.WantsHelp)
        {
            Console.Out.Write(Usage);
            return ExitCodes.Ok;
        }

        var options = new ThroughputBenchOptions
        {
            FrameSize = ParseFrameSize(args.Optional("--frame-size")),
            Bindings = args.Int("--bindings", 1_000_000, 1, BenchAddresses.MaxBindings),
            Workers = args.Int("--workers", 1, 1, 256),
            ChurnPerSecond = args.Int("--churn", 0, 0, 10_000_000),
            CapMbps = args.Int("--cap-mbps", 0, 0, 100_000),
            Duration = TimeSpan.FromSeconds(args.Double("--duration", 10, 0.05, 86_400)),
            Warmup = TimeSpan.FromSeconds(args.Double("--warmup", 1, 0, 3_600)),
            BatchSize = args.Int("--batch", 32, 1, 1024),
            RingFrames = args.Int("--ring", 1 << 18, 1, 1 << 22),
            Seed = (ulong)args.Int("--seed", 1, 0),
            Prefetch = !args.Flag("--no-prefetch"),
        };
        bool json = args.Flag("--json");
        string? output = args.Optional("--output");
        bool noProgress = args.Flag("--no-progress");
        args.EnsureNoUnknownOptions();
        if (args.Positionals.Count != 0)
        {
            throw new UsageException($"unexpected argument '{args.Positionals[0]}'. Run 'gateway bench --help'.");
        }
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

    internal static FrameSizeProfile ParseFrameSize(string? text) => text switch
    {
        null or "64" => FrameSizeProfile.Min64,
        "imix" or "IMIX" => FrameSizeProfile.Imix,
        "1500" or "1518" => FrameSizeProfile.Max1518,
        _ => throw new UsageException($"--frame-size must be 64, imix or 1500, not '{text}'."),
    };

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
