using System.Diagnostics;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;

namespace Gateway.Bench;

/// <summary>Shared between the main thread and the workers.</summary>
internal sealed class BenchControl(int workers)
{
    /// <summary>A <see cref="BenchPhase"/>; written by the main thread only (release), read by workers once per batch.</summary>
    public int Phase = BenchPhase.Warmup;

    private int _waiting = workers;
    private int _notMeasuring = workers;

    public void WorkerReady() => Interlocked.Decrement(ref _waiting);

    /// <summary>A worker has seen <see cref="BenchPhase.Measure"/> and taken its starting snapshot.</summary>
    public void WorkerMeasuring() => Interlocked.Decrement(ref _notMeasuring);

    /// <summary>
    /// Waits until every worker has seen the measured interval begin. A worker can be off its CPU for a long time on a
    /// loaded machine (or stalled in a page fault); without this wait a short interval could start and end unseen.
    /// </summary>
    public void WaitForMeasuring()
    {
        while (Volatile.Read(ref _notMeasuring) > 0)
        {
            Thread.Sleep(1);
        }
    }

    public void WaitForWorkers()
    {
        while (Volatile.Read(ref _waiting) > 0)
        {
            Thread.Sleep(1);
        }
    }
}

/// <summary>A look at a running bench, for a progress display.</summary>
public readonly record struct BenchProgress(bool Warmup, double Seconds, double TotalSeconds, long Frames, double Mpps);

/// <summary>
/// The whole-pipeline throughput harness behind <c>gateway bench</c>: a binding table of the requested size,
/// one thread per worker translating its own pre-built synthetic frames in batches, optionally a writer
/// thread rebinding at a fixed rate, and the figures of the measured interval.
/// </summary>
public static class ThroughputBench
{
    public static ThroughputBenchResult Run(ThroughputBenchOptions options, Action<BenchProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var setupClock = Stopwatch.StartNew();
        var table = new BindingTable(options.Bindings);
        var policer = options.CapMbps > 0 ? new Gateway.DataPlane.Policing.Policer(options.Bindings + 1024) : null;
        var caps = Gateway.DataPlane.Policing.BandwidthCaps.FromMbps(options.CapMbps, options.CapMbps);
        for (int i = 0; i < options.Bindings; i++)
        {
            int id = table.Bind(BenchAddresses.Public(i), BenchAddresses.Private(i, 0));
            policer?.SetCaps(id, caps);
        }
        long indexBytes = table.IndexBytes;
        long idMapBytes = table.IdMapBytes;
        string indexPages = table.IndexPages;
        var everMoved = new byte[options.Bindings];
        var workers = new BenchWorker[options.Workers];
        // Built in parallel to shorten setup: each worker's ring takes ~0.3 s (64 B) to ~1 s (1500 B) to build.
        Parallel.For(0, options.Workers, w => workers[w] = new BenchWorker(table, options, w, everMoved, policer));
        double restoreNs = workers[0].MeasureRestoreNanoseconds(TimeSpan.FromMilliseconds(200));
        var (visibilityMedian, visibilityP99) = VisibilityProbe.Measure(table, 1000);
        double setupSeconds = setupClock.Elapsed.TotalSeconds;

        var control = new BenchControl(options.Workers);
        var threads = new Thread[options.Workers];
        for (int w = 0; w < options.Workers; w++)
        {
            var worker = workers[w];
            threads[w] = new Thread(() => worker.Run(control)) { IsBackground = true, Name = $"bench-worker-{w}" };
            threads[w].Start();
        }
        control.WaitForWorkers();

        using var churn = options.ChurnPerSecond > 0 ? new ChurnWriter(table, options, everMoved, policer) : null;
        churn?.Start();

        Follow(workers, options.Warmup, warmup: true, progress);

        // ---- The measured interval. ----
        int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
        long processAllocated = GC.GetTotalAllocatedBytes(precise: false);
        long churnBefore = churn?.Rebinds ?? 0;
        Volatile.Write(ref control.Phase, BenchPhase.Measure);
        control.WaitForMeasuring();
        long start = Stopwatch.GetTimestamp();

        Follow(workers, options.Duration, warmup: false, progress);

        Volatile.Write(ref control.Phase, BenchPhase.Stop);
        foreach (var thread in threads)
        {
            thread.Join();
        }
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long churnDone = (churn?.Rebinds ?? 0) - churnBefore;
        churn?.Stop();

        // Each worker took its own snapshots at the phase changes, so the figures agree with each other exactly.
        long frames = 0, forwarded = 0, dropped = 0, receivedBytes = 0;
        var drops = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var worker in workers)
        {
            var (before, after) = (worker.AtStart!, worker.AtEnd!);
            frames += after.ReceivedPackets - before.ReceivedPackets;
            forwarded += after.ForwardedPackets - before.ForwardedPackets;
            dropped += after.DroppedPackets - before.DroppedPackets;
            receivedBytes += after.ReceivedBytes - before.ReceivedBytes;
            foreach (var reason in DropReasons.All)
            {
                long count = after.DropPackets(reason) - before.DropPackets(reason);
                if (count != 0)
                {
                    string name = DropReasons.Name(reason);
                    drops[name] = drops.GetValueOrDefault(name) + count;
                }
            }
        }

        return new ThroughputBenchResult
        {
            Options = options,
            SetupSeconds = setupSeconds,
            Seconds = seconds,
            Frames = frames,
            Forwarded = forwarded,
            Dropped = dropped,
            DropsByReason = drops,
            // Bits on the wire per frame: the bytes in memory plus the FCS (preamble and inter-frame gap not counted).
            WireBits = (receivedBytes + (frames * ThroughputBenchOptions.FcsLength)) * 8,
            ImpossibleBindings = workers.Sum(w => w.ImpossibleBindings),
            Gen0Collections = GC.CollectionCount(0) - gen0,
            Gen1Collections = GC.CollectionCount(1) - gen1,
            Gen2Collections = GC.CollectionCount(2) - gen2,
            WorkerAllocatedBytes = workers.Sum(w => w.MeasuredAllocatedBytes),
            WorkerCpuNanoseconds = workers.Any(w => w.MeasuredCpuNanoseconds < 0) ? -1 : workers.Sum(w => w.MeasuredCpuNanoseconds),
            ProcessAllocatedBytes = GC.GetTotalAllocatedBytes(precise: false) - processAllocated,
            Rebinds = churnDone,
            TableBytes = indexBytes,
            IdMapBytes = idMapBytes,
            CounterBytes = workers.Sum(w => w.Counters.PerBindingBytes),
            IndexPages = indexPages,
            CounterPages = workers[0].Counters.PerBindingPages,
            HugePagePolicy = Gateway.DataPlane.Memory.LargePageMemory.Policy,
            RestoreNanosecondsPerFrame = restoreNs,
            VisibilityMedianNanoseconds = visibilityMedian,
            VisibilityP99Nanoseconds = visibilityP99,
        };
    }

    private static void Follow(BenchWorker[] workers, TimeSpan time, bool warmup, Action<BenchProgress>? progress)
    {
        var clock = Stopwatch.StartNew();
        long startFrames = ReceivedFrames(workers);
        long lastFrames = startFrames;
        double lastSeconds = 0;
        while (true)
        {
            TimeSpan remaining = time - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                return;
            }
            Thread.Sleep(remaining < TimeSpan.FromMilliseconds(500) ? remaining : TimeSpan.FromMilliseconds(500));
            if (progress != null && clock.Elapsed.TotalSeconds - lastSeconds > 0.1)
            {
                long frames = ReceivedFrames(workers);
                double seconds = clock.Elapsed.TotalSeconds;
                progress(new BenchProgress(warmup, seconds, time.TotalSeconds, frames - startFrames, (frames - lastFrames) / (seconds - lastSeconds) / 1e6));
                lastFrames = frames;
                lastSeconds = seconds;
            }
        }
    }

    private static long ReceivedFrames(BenchWorker[] workers)
    {
        long sum = 0;
        foreach (var worker in workers)
        {
            sum += worker.Counters.ReceivedPacketCount;
        }
        return sum;
    }
}

/// <summary>
/// The control-plane stand-in of a churn run: rebinds at a fixed rate while the workers translate.
/// Each step moves a random binding i from Q(i, 0) to Q(i, 1) and back (two rebinds), so the pre-built frames
/// stay translatable and every frame in flight meets either the old binding or the new one.
/// </summary>
internal sealed class ChurnWriter(BindingTable table, ThroughputBenchOptions options, byte[] everMoved, Gateway.DataPlane.Policing.Policer? policer) : IDisposable
{
    private Thread? _running;
    private volatile bool _stop;
    private long _rebinds;

    public long Rebinds => Interlocked.Read(ref _rebinds);

    public void Start()
    {
        _running = new Thread(Loop) { IsBackground = true, Name = "bench-churn" };
        _running.Start();
    }

    private void Loop()
    {
        var random = new SplitMix64(options.Seed ^ 0xC0FFEE);
        var clock = Stopwatch.StartNew();
        long done = 0;
        while (!_stop)
        {
            long due = (long)(options.ChurnPerSecond * clock.Elapsed.TotalSeconds);
            while (done + 2 <= due && !_stop)
            {
                int i = (int)(random.Next() % (ulong)options.Bindings);
                // Flag first: the bind's release store publishes it to any worker that then sees Q(i, 1).
                Volatile.Write(ref everMoved[i], 1);
                int moved = table.Bind(BenchAddresses.Public(i), BenchAddresses.Private(i, 1));
                policer?.SetCaps(moved, Gateway.DataPlane.Policing.BandwidthCaps.FromMbps(options.CapMbps, options.CapMbps)); // as the control plane does
                int back = table.Bind(BenchAddresses.Public(i), BenchAddresses.Private(i, 0));
                policer?.SetCaps(back, Gateway.DataPlane.Policing.BandwidthCaps.FromMbps(options.CapMbps, options.CapMbps));
                done += 2;
                Interlocked.Exchange(ref _rebinds, done);
            }
            Thread.Sleep(1);
        }
    }

    public void Stop()
    {
        _stop = true;
        _running?.Join();
    }

    public void Dispose() => Stop();
}
