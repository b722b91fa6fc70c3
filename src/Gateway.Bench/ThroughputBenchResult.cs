using System.Globalization;
using System.Text.Json;
using Gateway.DataPlane.Memory;

namespace Gateway.Bench;

/// <summary>The figures of one <see cref="ThroughputBench"/> run (the measured interval only, warm-up excluded).</summary>
public sealed record ThroughputBenchResult
{
    public required ThroughputBenchOptions Options { get; init; }
    public double SetupSeconds { get; init; }

    /// <summary>Wall-clock length of the measured interval.</summary>
    public double Seconds { get; init; }

    /// <summary>Frames handed to the translator in the interval (forwarded + dropped).</summary>
    public long Frames { get; init; }
    public long Forwarded { get; init; }
    public long Dropped { get; init; }
    public IReadOnlyDictionary<string, long> DropsByReason { get; init; } = new Dictionary<string, long>();

    /// <summary>Bits of the frames on the wire: bytes plus FCS, without preamble and inter-frame gap.</summary>
    public long WireBits { get; init; }

    /// <summary>Frames forwarded with an address no binding of the run ever had. Anything but 0 is a bug.</summary>
    public long ImpossibleBindings { get; init; }

    public int Gen0Collections { get; init; }
    public int Gen1Collections { get; init; }
    public int Gen2Collections { get; init; }

    /// <summary>Bytes allocated by the worker threads in the interval (the hot path).</summary>
    public long WorkerAllocatedBytes { get; init; }

    /// <summary>CPU time the worker threads used in the interval (ns), -1 where the platform has no per-thread clock.</summary>
    public long WorkerCpuNanoseconds { get; init; } = -1;

    /// <summary>Worker CPU time per frame: unlike <see cref="NanosecondsPerFrame"/>, not inflated when other processes take the cores.</summary>
    public double CpuNanosecondsPerFrame => WorkerCpuNanoseconds < 0 ? double.NaN : (double)WorkerCpuNanoseconds / Math.Max(1, Frames);

    /// <summary>The share of the interval the workers were on a CPU (1 = each worker had a core to itself throughout).</summary>
    public double WorkerCpuShare => WorkerCpuNanoseconds < 0 ? double.NaN : WorkerCpuNanoseconds / (Seconds * 1e9 * Options.Workers);

    /// <summary>Mpps per worker on a CPU: frames per second of worker CPU time, the rate one core would give undisturbed.</summary>
    public double MppsPerCpu => WorkerCpuNanoseconds <= 0 ? double.NaN : Frames / (WorkerCpuNanoseconds / 1e9) / 1e6;

    /// <summary>Bytes allocated by the whole process in the interval (includes the churn writer's index rebuilds).</summary>
    public long ProcessAllocatedBytes { get; init; }

    /// <summary>Rebinds the churn writer made in the interval.</summary>
    public long Rebinds { get; init; }

    /// <summary>Bytes of the binding index the frame path reads (both directions), before the run.</summary>
    public long TableBytes { get; init; }

    /// <summary>Per-binding state outside the index: the table writer's id → binding map (never read by workers).</summary>
    public long IdMapBytes { get; init; }

    /// <summary>Per-binding state outside the index: every worker's per-binding counters.</summary>
    public long CounterBytes { get; init; }

    /// <summary>Which pages back the index and the counters ("2 MiB pages (transparent; ...)").</summary>
    public string IndexPages { get; init; } = "";
    public string CounterPages { get; init; } = "";
    public HugePagePolicy HugePagePolicy { get; init; }

    /// <summary>The per-frame cost of restoring a frame and checking its addresses, measured alone on one thread.</summary>
    public double RestoreNanosecondsPerFrame { get; init; }

    /// <summary>Time from calling Bind to a spinning reader on another thread seeing the new binding: median and 99th percentile of 1,000.</summary>
    public double VisibilityMedianNanoseconds { get; init; }
    public double VisibilityP99Nanoseconds { get; init; }

    public double Mpps => Frames / Seconds / 1e6;
    public double Gbps => WireBits / Seconds / 1e9;

    /// <summary>Worker time per frame: wall time × workers / frames (each worker owns a thread for the whole run).</summary>
    public double NanosecondsPerFrame => Seconds * 1e9 * Options.Workers / Math.Max(1, Frames);

    public double AllocatedBytesPerFrame => (double)WorkerAllocatedBytes / Math.Max(1, Frames);
    public double RebindsPerSecond => Rebinds / Seconds;
    public double BytesPerBindingPerDirection => TableBytes / 2.0 / Options.Bindings;
    public double IdMapBytesPerBinding => (double)IdMapBytes / Options.Bindings;
    public double CounterBytesPerBinding => (double)CounterBytes / Options.Bindings;

    public static string FrameSizeName(FrameSizeProfile profile) => profile switch
    {
        FrameSizeProfile.Min64 => "64",
        FrameSizeProfile.Imix => "imix",
        _ => "1518",
    };

    /// <summary>The figures as one JSON object (stable names, for scripts and the plots).</summary>
    public void WriteJson(Utf8JsonWriter json, string? cpuModel = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        json.WriteStartObject();
        json.WriteString("frameSize", FrameSizeName(Options.FrameSize));
        json.WriteNumber("bindings", Options.Bindings);
        json.WriteNumber("workers", Options.Workers);
        json.WriteNumber("churnRequested", Options.ChurnPerSecond);
        json.WriteNumber("batch", Options.BatchSize);
        json.WriteBoolean("prefetch", Options.Prefetch);
        json.WriteNumber("ringFrames", Options.RingFrames);
        json.WriteNumber("capMbps", Options.CapMbps);
        json.WriteNumber("seconds", Math.Round(Seconds, 3));
        json.WriteNumber("frames", Frames);
        json.WriteNumber("forwarded", Forwarded);
        json.WriteNumber("dropped", Dropped);
        json.WriteStartObject("drops");
        foreach (var (reason, count) in DropsByReason)
        {
            json.WriteNumber(reason, count);
        }
        json.WriteEndObject();
        json.WriteNumber("mpps", Math.Round(Mpps, 3));
        json.WriteNumber("gbps", Math.Round(Gbps, 3));
        json.WriteNumber("nsPerFrame", Math.Round(NanosecondsPerFrame, 2));
        if (WorkerCpuNanoseconds >= 0)
        {
            json.WriteNumber("cpuNsPerFrame", Math.Round(CpuNanosecondsPerFrame, 2));
            json.WriteNumber("mppsPerCpu", Math.Round(MppsPerCpu, 3));
            json.WriteNumber("workerCpuShare", Math.Round(WorkerCpuShare, 3));
        }
        json.WriteNumber("restoreNsPerFrame", Math.Round(RestoreNanosecondsPerFrame, 2));
        json.WriteNumber("impossibleBindings", ImpossibleBindings);
        json.WriteNumber("rebinds", Rebinds);
        json.WriteNumber("rebindsPerSecond", Math.Round(RebindsPerSecond, 1));
        json.WriteNumber("gen0", Gen0Collections);
        json.WriteNumber("gen1", Gen1Collections);
        json.WriteNumber("gen2", Gen2Collections);
        json.WriteNumber("allocatedBytesPerFrame", AllocatedBytesPerFrame);
        json.WriteNumber("workerAllocatedBytes", WorkerAllocatedBytes);
        json.WriteNumber("processAllocatedBytes", ProcessAllocatedBytes);
        json.WriteNumber("tableBytes", TableBytes);
        json.WriteNumber("bytesPerBindingPerDirection", Math.Round(BytesPerBindingPerDirection, 2));
        json.WriteNumber("idMapBytes", IdMapBytes);
        json.WriteNumber("counterBytes", CounterBytes);
        json.WriteNumber("counterBytesPerBinding", Math.Round(CounterBytesPerBinding, 2));
        json.WriteString("hugePages", HugePagePolicy.ToString().ToLowerInvariant());
        json.WriteString("indexPages", IndexPages);
        json.WriteString("counterPages", CounterPages);
        WriteNumberOrNull(json, "visibilityMedianNs", VisibilityMedianNanoseconds);
        WriteNumberOrNull(json, "visibilityP99Ns", VisibilityP99Nanoseconds);
        json.WriteNumber("setupSeconds", Math.Round(SetupSeconds, 2));
        json.WriteNumber("processorCount", Environment.ProcessorCount);
        if (cpuModel != null)
        {
            json.WriteString("cpu", cpuModel);
        }
        json.WriteString("runtime", Environment.Version.ToString());
        json.WriteEndObject();
    }

    private static void WriteNumberOrNull(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, Math.Round(value, 1));
        }
        else
        {
            json.WriteNull(name);
        }
    }

    /// <summary>The figures for a person, one per line.</summary>
    public void WriteText(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var c = CultureInfo.InvariantCulture;
        writer.WriteLine(string.Create(c, $"frames      {Frames:N0} in {Seconds:F2} s ({Options.Workers} worker(s), {FrameSizeName(Options.FrameSize)} B frames, {Options.Bindings:N0} bindings{(Options.CapMbps > 0 ? $", every binding capped at {Options.CapMbps} Mbps each way" : "")})"));
        writer.WriteLine(string.Create(c, $"rate        {Mpps:F2} Mpps   {Gbps:F2} Gbps (frame bytes + FCS)"));
        writer.WriteLine(string.Create(c, $"per frame   {NanosecondsPerFrame:F1} ns per worker (of which restore + check ≈ {RestoreNanosecondsPerFrame:F1} ns, measured alone)"));
        if (WorkerCpuNanoseconds >= 0)
        {
            writer.WriteLine(string.Create(c, $"cpu         {CpuNanosecondsPerFrame:F1} ns of worker CPU per frame = {MppsPerCpu:F2} Mpps per core; workers were on a CPU {WorkerCpuShare:P0} of the time"));
        }
        string drops = DropsByReason.Count == 0 ? "" : " (" + string.Join(", ", DropsByReason.Select(d => string.Create(c, $"{d.Key} {d.Value:N0}"))) + ")";
        writer.WriteLine(string.Create(c, $"drops       {Dropped:N0}{drops}"));
        if (Options.ChurnPerSecond > 0)
        {
            writer.WriteLine(string.Create(c, $"churn       {Rebinds:N0} rebinds ({RebindsPerSecond:N0}/s of {Options.ChurnPerSecond:N0}/s asked)"));
        }
        writer.WriteLine(string.Create(c, $"impossible  {ImpossibleBindings:N0} frames translated with a binding that never existed"));
        writer.WriteLine(string.Create(c, $"gc          gen0 {Gen0Collections}, gen1 {Gen1Collections}, gen2 {Gen2Collections} during the run"));
        writer.WriteLine(string.Create(c, $"allocated   {AllocatedBytesPerFrame:F4} B/frame on the workers; {ProcessAllocatedBytes:N0} B in the whole process"));
        writer.WriteLine(string.Create(c, $"index       {TableBytes:N0} B = {BytesPerBindingPerDirection:F1} B per binding per direction; {IndexPages}"));
        writer.WriteLine(string.Create(c, $"per binding outside the index: counters {CounterBytesPerBinding:F1} B ({Options.Workers} worker(s); {CounterPages}), writer's id map {IdMapBytesPerBinding:F1} B"));
        writer.WriteLine(string.Create(c, $"rebind      seen by a reader {VisibilityMedianNanoseconds:F0} ns after Bind was called (median; p99 {VisibilityP99Nanoseconds:F0} ns)"));
    }
}
