using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;
using Gateway.Packets;

namespace Gateway.Bench;

/// <summary>Where the run is; the main thread moves it forward, workers look once per batch.</summary>
internal static class BenchPhase
{
    public const int Warmup = 0;
    public const int Measure = 1;
    public const int Stop = 2;
}

/// <summary>
/// One worker of the throughput harness: its own pre-built frames, its own counters, its own thread.
/// </summary>
/// <remarks>
/// <para>Each frame is a real translation of a frame that has not been translated yet: before a batch is
/// translated, the first <see cref="RestoreLength"/> bytes of each frame (every byte the translator can change
/// in the TCP/UDP frames used here) are copied back from a pristine ring of headers. The payload after them
/// never changes, so it is written once. The copy is part of the measured per-frame cost; the harness measures
/// it on its own too (<see cref="MeasureRestoreNanoseconds"/>) so it can be stated next to the figures.</para>
/// <para>After each translation the worker checks that every rewritten address belongs to a binding that
/// existed (see <see cref="BenchAddresses"/>): a torn or made-up binding is counted, never hidden.</para>
/// </remarks>
internal sealed class BenchWorker
{
    /// <summary>The bytes restored per frame: Ethernet 14 + IPv4 20 + TCP checksum ends at 52; one cache line.</summary>
    internal const int RestoreLength = 64;

    private readonly Translator _translator;
    private readonly int _batch;
    private readonly int _ringMask;
    private readonly int _stride;
    private readonly byte[] _pristine; // ring of RestoreLength-byte headers
    private readonly ushort[] _lengths; // frame length (no FCS) of each ring entry
    private readonly byte[] _work; // batch slots, each _stride bytes
    private readonly byte[] _everMoved; // per binding index: churn has bound it to generation 1 (written before the bind)
    private readonly bool _prefetch;
    private readonly BatchFrame[] _batchFrames;
    private readonly DropReason[] _verdicts;
    private readonly int[] _ringIndex; // ring entry of each batch slot
    private readonly Gateway.DataPlane.Policing.PolicerLane? _lane; // --cap-mbps: this worker's lane of the policer
    private int _cursor;

    public TrafficCounters Counters { get; }

    /// <summary>Frames translated with an address no binding of the run ever had (must stay zero).</summary>
    public long ImpossibleBindings { get; private set; }

    /// <summary>This worker's counters when the measured interval began and ended.</summary>
    public CounterSnapshot? AtStart { get; private set; }
    public CounterSnapshot? AtEnd { get; private set; }

    public long MeasuredAllocatedBytes { get; private set; }

    /// <summary>CPU time this worker's thread used in the measured interval (ns), or -1 where unknown.</summary>
    public long MeasuredCpuNanoseconds { get; private set; }

    public BenchWorker(BindingTable table, ThroughputBenchOptions options, int workerIndex, byte[] everMoved, Gateway.DataPlane.Policing.Policer? policer = null)
    {
        _lane = policer?.CreateLane();
        _translator = new Translator(table);
        _batch = options.BatchSize;
        _ringMask = options.RingFrames - 1;
        _everMoved = everMoved;
        _prefetch = options.Prefetch;
        _batchFrames = new BatchFrame[_batch];
        _verdicts = new DropReason[_batch];
        _ringIndex = new int[_batch];
        Counters = new TrafficCounters(table.IdLimit + 4096);

        int maxLength = options.FrameSize == FrameSizeProfile.Min64 ? 60 : 1514;
        _stride = (maxLength + 63) & ~63;
        _pristine = new byte[options.RingFrames * RestoreLength];
        _lengths = new ushort[options.RingFrames];
        _work = new byte[_batch * _stride];
        Build(options, workerIndex);
    }

    private void Build(ThroughputBenchOptions options, int workerIndex)
    {
        var random = new SplitMix64(options.Seed + ((ulong)workerIndex * 0x9E3779B97F4A7C15));
        var scratch = new byte[1536];
        for (int j = 0; j < _lengths.Length; j++)
        {
            ulong r = random.Next();
            int length = options.FrameSize switch
            {
                FrameSizeProfile.Min64 => 60,
                FrameSizeProfile.Max1518 => 1514,
                // Simple IMIX 7:4:1 of 64/594/1518 on the wire.
                _ => (r % 12) switch { < 7 => 60, < 11 => 590, _ => 1514 },
            };
            int index = (int)((r >> 8) % (ulong)options.Bindings);
            bool inbound = ((r >> 40) & 1) == 0;
            var kind = ((r >> 41) & 1) == 0 ? TrafficKind.Tcp : TrafficKind.Udp;
            uint remote = BenchAddresses.Remote((uint)(r >> 42));
            ushort ephemeral = (ushort)(32768 + ((r >> 48) & 0x7FFF));
            var frame = scratch.AsSpan(0, length);
            if (inbound)
            {
                SyntheticFrames.Write(frame, kind, remote, BenchAddresses.Public(index), ephemeral, 443);
            }
            else
            {
                SyntheticFrames.Write(frame, kind, BenchAddresses.Private(index, 0), remote, ephemeral, 443);
            }
            frame.Slice(0, Math.Min(length, RestoreLength)).CopyTo(_pristine.AsSpan(j * RestoreLength));
            _lengths[j] = (ushort)length;
        }
        // The payload pattern past the restored prefix depends only on the offset, so one full-length frame's
        // tail serves every slot: each frame in a slot is then byte for byte the frame built above.
        SyntheticFrames.Write(scratch.AsSpan(0, 1514), TrafficKind.Udp, BenchAddresses.Remote(0), BenchAddresses.Remote(1));
        for (int k = 0; k < _batch; k++)
        {
            scratch.AsSpan(0, _stride).CopyTo(_work.AsSpan(k * _stride));
        }
    }

    /// <summary>The worker thread's body: translate batches until told to stop.</summary>
    public void Run(BenchControl control)
    {
        int phase = BenchPhase.Warmup;
        long allocatedAtStart = 0, cpuAtStart = 0;
        control.WorkerReady();
        while (true)
        {
            int now = Volatile.Read(ref control.Phase);
            if (now != phase)
            {
                if (now == BenchPhase.Measure)
                {
                    // The snapshot allocates; it is taken before the allocation baseline so it is not counted.
                    AtStart = CounterSnapshot.Of(Counters);
                    allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
                    cpuAtStart = ThreadCpuClock.Nanoseconds();
                    control.WorkerMeasuring();
                }
                else
                {
                    long cpuAtEnd = ThreadCpuClock.Nanoseconds();
                    MeasuredCpuNanoseconds = cpuAtStart < 0 || cpuAtEnd < 0 ? -1 : cpuAtEnd - cpuAtStart;
                    MeasuredAllocatedBytes = GC.GetAllocatedBytesForCurrentThread() - allocatedAtStart;
                    AtEnd = CounterSnapshot.Of(Counters);
                    return;
                }
                phase = now;
            }
            if (_prefetch)
            {
                TranslateBatchWithPrefetch();
            }
            else
            {
                TranslateBatch();
            }
        }
    }

    /// <summary>Restore the batch, hand it to <see cref="Translator.TranslateEthernetBatch"/> (prefetch, then translate), check.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void TranslateBatchWithPrefetch()
    {
        byte[] work = _work;
        byte[] pristine = _pristine;
        BatchFrame[] frames = _batchFrames;
        int[] ringIndex = _ringIndex;
        int cursor = _cursor;
        for (int k = 0; k < frames.Length; k++)
        {
            int j = cursor;
            cursor = (cursor + 1) & _ringMask;
            int slot = k * _stride;
            Restore(pristine, j * RestoreLength, work, slot);
            int length = _lengths[j];
            frames[k] = new BatchFrame(slot, length, length);
            ringIndex[k] = j;
        }
        _cursor = cursor;
        if (_lane is not null)
        {
            _lane.Now = Gateway.DataPlane.Policing.Policer.MonotonicTicks(); // once per batch, as the data path's workers do
        }
        _translator.TranslateEthernetBatch(work, frames, _verdicts, Counters, TranslateMode.Infer, _lane);
        long impossible = 0;
        for (int k = 0; k < frames.Length; k++)
        {
            if (_verdicts[k] == DropReason.None)
            {
                impossible += Check(pristine.AsSpan(ringIndex[k] * RestoreLength, RestoreLength), work.AsSpan(frames[k].Offset, frames[k].Length));
            }
        }
        if (impossible != 0)
        {
            ImpossibleBindings += impossible;
        }
    }

    /// <summary>Restore and translate one frame at a time with <see cref="Translator.TranslateEthernet"/> (no prefetch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void TranslateBatch()
    {
        byte[] work = _work;
        byte[] pristine = _pristine;
        int cursor = _cursor;
        long impossible = 0;
        if (_lane is not null)
        {
            _lane.Now = Gateway.DataPlane.Policing.Policer.MonotonicTicks();
        }
        for (int k = 0; k < _batch; k++)
        {
            int j = cursor;
            cursor = (cursor + 1) & _ringMask;
            int slot = k * _stride;
            Restore(pristine, j * RestoreLength, work, slot);
            int length = _lengths[j];
            var frame = work.AsSpan(slot, length);
            if (_translator.TranslateEthernet(frame, length, Counters, TranslateMode.Infer, _lane) == DropReason.None)
            {
                impossible += Check(pristine.AsSpan(j * RestoreLength, RestoreLength), frame);
            }
        }
        _cursor = cursor;
        if (impossible != 0)
        {
            ImpossibleBindings += impossible;
        }
    }

    /// <summary>Copies one header line back: two 32-byte moves, no call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Restore(byte[] pristine, int from, byte[] work, int to)
    {
        Debug.Assert(from + RestoreLength <= pristine.Length && to + RestoreLength <= work.Length);
        Unsafe.WriteUnaligned(ref MemoryMarshal.GetArrayDataReference(work).GetAddress(to),
            Unsafe.ReadUnaligned<HeaderLine>(ref MemoryMarshal.GetArrayDataReference(pristine).GetAddress(from)));
    }

    /// <summary>0 when both addresses are what some binding of the run made of them, else 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Check(ReadOnlySpan<byte> before, ReadOnlySpan<byte> after)
    {
        const int Source = Ethernet.HeaderLength + Ipv4.SourceOffset;
        const int Destination = Ethernet.HeaderLength + Ipv4.DestinationOffset;
        bool ok = Plausible(BinaryPrimitives.ReadUInt32BigEndian(before.Slice(Source)), BinaryPrimitives.ReadUInt32BigEndian(after.Slice(Source)))
            & Plausible(BinaryPrimitives.ReadUInt32BigEndian(before.Slice(Destination)), BinaryPrimitives.ReadUInt32BigEndian(after.Slice(Destination)));
        return ok ? 0 : 1;
    }

    private bool Plausible(uint before, uint after)
    {
        if (before == after)
        {
            return true;
        }
        if (BenchAddresses.IsPublic(before))
        {
            // DNAT P(i) → Q(i, g): g = 0 always existed, g = 1 only once churn moved binding i.
            return BenchAddresses.TryDecodePrivate(after, out int index, out int generation)
                && index == BenchAddresses.IndexOf(before)
                && (generation == 0 || (generation == 1 && Volatile.Read(ref _everMoved[index]) != 0));
        }
        // SNAT Q(i, 0) → P(i): the public side of binding i never changes.
        return BenchAddresses.TryDecodePrivate(before, out int from, out _) && after == BenchAddresses.Public(from);
    }

    /// <summary>The restore and check on their own, without translating: what the harness adds per frame (CPU ns).</summary>
    public double MeasureRestoreNanoseconds(TimeSpan time)
    {
        long start = Stopwatch.GetTimestamp();
        long cpuStart = ThreadCpuClock.Nanoseconds();
        long end = start + (long)(time.TotalSeconds * Stopwatch.Frequency);
        long frames = 0;
        long sink = 0;
        int cursor = 0;
        // At least one batch: on a machine so loaded that the thread sleeps through the whole interval, no batch would
        // mean 0 frames and an infinite figure (which the JSON output cannot carry).
        do
        {
            for (int k = 0; k < _batch; k++)
            {
                int j = cursor;
                cursor = (cursor + 1) & _ringMask;
                int slot = k * _stride;
                Restore(_pristine, j * RestoreLength, _work, slot);
                sink += Check(_pristine.AsSpan(j * RestoreLength, RestoreLength), _work.AsSpan(slot, _lengths[j]));
            }
            frames += _batch;
        }
        while (Stopwatch.GetTimestamp() < end);
        GC.KeepAlive(sink);
        // CPU time where the platform has it: on a shared machine wall time counts other processes' turns too.
        long cpuEnd = ThreadCpuClock.Nanoseconds();
        return cpuStart >= 0 && cpuEnd >= 0 ? (double)(cpuEnd - cpuStart) / frames : Stopwatch.GetElapsedTime(start).TotalNanoseconds / frames;
    }

    [StructLayout(LayoutKind.Sequential, Size = RestoreLength)]
    private struct HeaderLine;
}

internal static class ByteRefExtensions
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref byte GetAddress(ref this byte start, int offset) => ref Unsafe.Add(ref start, offset);
}

/// <summary>A small, fast, seeded generator (SplitMix64): reproducible traffic, no shared state.</summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }
}
