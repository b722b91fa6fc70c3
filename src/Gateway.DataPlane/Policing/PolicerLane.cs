using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Gateway.DataPlane.Policing;

/// <summary>
/// One worker's side of the <see cref="Policer"/>: its clock (<see cref="Now"/>, set once per batch) and its meters
/// (per binding: packets and bytes forwarded and dropped by the cap, each direction). Only its worker writes it
/// (plain increments, like <see cref="Counters.TrafficCounters"/>); anyone may read it.
/// </summary>
/// <remarks>
/// The translator calls <see cref="Admit"/> once per frame that has a binding, after the lookups and before any byte
/// is rewritten, so a frame the cap refuses leaves as it came. A hairpin frame is charged on both bindings, as the
/// cloud would see it: first the sender's outbound bucket, then the receiver's inbound one; when only the second
/// refuses, the sender's outbound bytes were still sent (and metered), as on the real network.
/// </remarks>
public sealed class PolicerLane
{
    internal const int MeterStride = 8;
    private const int OutPackets = 0;
    private const int OutBytes = 1;
    private const int InPackets = 2;
    private const int InBytes = 3;
    private const int OutDroppedPackets = 4;
    private const int OutDroppedBytes = 5;
    private const int InDroppedPackets = 6;
    private const int InDroppedBytes = 7;

    private readonly Policer _policer;
    private long[] _meters;

    internal PolicerLane(Policer policer, int bindingIdCapacity)
    {
        _policer = policer;
        _meters = new long[Math.Max(16, bindingIdCapacity) * MeterStride];
    }

    public Policer Policer => _policer;

    /// <summary>
    /// The time the next packets are judged at, in policer ticks (<see cref="Policer.TicksPerNanosecond"/>): the
    /// monotonic clock on live ports (<see cref="Policer.MonotonicTicks"/>), the capture's timestamps in a replay.
    /// </summary>
    public long Now { get; set; }

    /// <summary>
    /// Charges a packet of <paramref name="ipLength"/> bytes (its IPv4 total length) to the outbound bucket of
    /// <paramref name="outboundId"/> and the inbound bucket of <paramref name="inboundId"/> (-1: that direction does
    /// not apply) and meters the outcome. False: the packet must be dropped as bandwidth-exceeded.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Admit(int outboundId, int inboundId, int ipLength)
    {
        long[] slots = _policer.Slots;
        if (outboundId >= 0)
        {
            if (!TryCharge(slots, (outboundId * Policer.Stride) + Policer.Outbound, ipLength))
            {
                Meter(outboundId, OutDroppedPackets, 1, ipLength);
                return false;
            }
            Meter(outboundId, OutPackets, 1, ipLength);
        }
        if (inboundId >= 0)
        {
            if (!TryCharge(slots, (inboundId * Policer.Stride) + Policer.Inbound, ipLength))
            {
                Meter(inboundId, InDroppedPackets, 1, ipLength);
                return false;
            }
            Meter(inboundId, InPackets, 1, ipLength);
        }
        return true;
    }

    /// <summary>
    /// Charges a GSO super-frame as the segments it becomes: <paramref name="segments"/> IPv4 packets of
    /// <paramref name="headerLength"/> bytes of headers plus <paramref name="segmentPayload"/> bytes of payload each,
    /// the last carrying <paramref name="lastSegmentPayload"/>. Returns how many leading segments passed both buckets
    /// (all: forward the super-frame whole; fewer: segment it and forward those, the rest are bandwidth-exceeded).
    /// </summary>
    public int AdmitSegments(int outboundId, int inboundId, int headerLength, int segmentPayload, int segments, int lastSegmentPayload)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(segments, 1);
        long[] slots = _policer.Slots;
        int admitted = segments;
        if (outboundId >= 0)
        {
            admitted = TryChargeSegments(slots, (outboundId * Policer.Stride) + Policer.Outbound, headerLength, segmentPayload, admitted, segments, lastSegmentPayload);
            MeterSegments(outboundId, OutPackets, 0, admitted, headerLength, segmentPayload, segments, lastSegmentPayload);
            MeterSegments(outboundId, OutDroppedPackets, admitted, segments, headerLength, segmentPayload, segments, lastSegmentPayload);
        }
        if (inboundId >= 0)
        {
            int offered = admitted;
            admitted = TryChargeSegments(slots, (inboundId * Policer.Stride) + Policer.Inbound, headerLength, segmentPayload, offered, segments, lastSegmentPayload);
            MeterSegments(inboundId, InPackets, 0, admitted, headerLength, segmentPayload, segments, lastSegmentPayload);
            MeterSegments(inboundId, InDroppedPackets, admitted, offered, headerLength, segmentPayload, segments, lastSegmentPayload);
        }
        return admitted;
    }

    /// <summary>
    /// Starts fetching the lines <see cref="Admit"/> will touch for <paramref name="bindingId"/>: its buckets and this
    /// lane's meters (x86 only; a hint, like <see cref="Counters.TrafficCounters.PrefetchBinding"/>, for batches over
    /// tables larger than the cache). Unpinned pointers: a stale line after a GC move is harmless.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void PrefetchBinding(int bindingId)
    {
        if (!Sse.IsSupported)
        {
            return;
        }
        long[] slots = _policer.Slots;
        int at = bindingId * Policer.Stride;
        if ((uint)at < (uint)slots.Length)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(slots), at)));
        }
        long[] meters = _meters;
        int i = bindingId * MeterStride;
        if ((uint)i < (uint)meters.Length)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(meters), i)));
        }
    }

    /// <summary>This lane's meters for one binding id (zero when it never metered that id).</summary>
    public BindingMeter MeterOf(int bindingId)
    {
        long[] meters = Volatile.Read(ref _meters);
        int i = bindingId * MeterStride;
        if (bindingId < 0 || i + MeterStride > meters.Length)
        {
            return default;
        }
        return new BindingMeter(
            Volatile.Read(ref meters[i + OutPackets]), Volatile.Read(ref meters[i + OutBytes]),
            Volatile.Read(ref meters[i + InPackets]), Volatile.Read(ref meters[i + InBytes]),
            Volatile.Read(ref meters[i + OutDroppedPackets]), Volatile.Read(ref meters[i + OutDroppedBytes]),
            Volatile.Read(ref meters[i + InDroppedPackets]), Volatile.Read(ref meters[i + InDroppedBytes]));
    }

    /// <summary>One bucket's charge, lock-free: see <see cref="Policer"/> for the arithmetic.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryCharge(long[] slots, int at, int bytes)
    {
        if ((uint)(at + 3) >= (uint)slots.Length)
        {
            return true; // an id no cap was ever set for
        }
        long q = Volatile.Read(ref slots[at + Policer.CostOffset]);
        if (q == 0)
        {
            return true; // not capped in this direction
        }
        long tolerance = Volatile.Read(ref slots[at + Policer.ToleranceOffset]);
        long cost = Policer.Cost(bytes, q);
        long now = Now;
        ref long tatRef = ref slots[at + Policer.TatOffset];
        long tat = Volatile.Read(ref tatRef);
        while (true)
        {
            long next = Math.Max(tat, now) + cost;
            if (next - now > tolerance)
            {
                return false; // too few tokens: nothing is taken
            }
            // Full fence: another worker's charge between our read and this store makes it fail, and we retry on
            // the value it left, so no charge is ever lost.
            long seen = Interlocked.CompareExchange(ref tatRef, next, tat);
            if (seen == tat)
            {
                return true;
            }
            tat = seen;
        }
    }

    /// <summary>Charges up to <paramref name="count"/> leading segments in one compare-and-swap; returns how many fit.</summary>
    private int TryChargeSegments(long[] slots, int at, int headerLength, int segmentPayload, int count, int segments, int lastSegmentPayload)
    {
        if (count == 0 || (uint)(at + 3) >= (uint)slots.Length)
        {
            return count;
        }
        long q = Volatile.Read(ref slots[at + Policer.CostOffset]);
        if (q == 0)
        {
            return count;
        }
        long tolerance = Volatile.Read(ref slots[at + Policer.ToleranceOffset]);
        long fullCost = Policer.Cost(headerLength + segmentPayload, q);
        long lastCost = Policer.Cost(headerLength + lastSegmentPayload, q);
        long now = Now;
        ref long tatRef = ref slots[at + Policer.TatOffset];
        long tat = Volatile.Read(ref tatRef);
        while (true)
        {
            long next = Math.Max(tat, now);
            int fit = 0;
            while (fit < count)
            {
                long cost = fit == segments - 1 ? lastCost : fullCost;
                if (next + cost - now > tolerance)
                {
                    break;
                }
                next += cost;
                fit++;
            }
            if (fit == 0)
            {
                return 0;
            }
            long seen = Interlocked.CompareExchange(ref tatRef, next, tat);
            if (seen == tat)
            {
                return fit;
            }
            tat = seen;
        }
    }

    private void MeterSegments(int bindingId, int field, int from, int to, int headerLength, int segmentPayload, int segments, int lastSegmentPayload)
    {
        if (to <= from)
        {
            return;
        }
        long bytes = (long)(to - from) * (headerLength + segmentPayload);
        if (to == segments)
        {
            bytes += lastSegmentPayload - segmentPayload;
        }
        Meter(bindingId, field, to - from, bytes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Meter(int bindingId, int field, int packets, long bytes)
    {
        long[] meters = _meters;
        int i = (bindingId * MeterStride) + field;
        if ((uint)(i + 1) >= (uint)meters.Length)
        {
            meters = Grow(bindingId);
        }
        meters[i] += packets;
        meters[i + 1] += bytes;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private long[] Grow(int bindingId)
    {
        long capacity = Math.Max(bindingId + 1L, (long)_meters.Length / MeterStride * 2);
        var grown = new long[capacity * MeterStride];
        Array.Copy(_meters, grown, _meters.Length);
        Volatile.Write(ref _meters, grown);
        return grown;
    }
}

/// <summary>What a binding carried and what its caps dropped, per direction: IPv4 packets and their total lengths.</summary>
public readonly record struct BindingMeter(
    long OutboundPackets, long OutboundBytes, long InboundPackets, long InboundBytes,
    long OutboundDroppedPackets, long OutboundDroppedBytes, long InboundDroppedPackets, long InboundDroppedBytes)
{
    public static BindingMeter operator +(BindingMeter a, BindingMeter b) => new(
        a.OutboundPackets + b.OutboundPackets, a.OutboundBytes + b.OutboundBytes,
        a.InboundPackets + b.InboundPackets, a.InboundBytes + b.InboundBytes,
        a.OutboundDroppedPackets + b.OutboundDroppedPackets, a.OutboundDroppedBytes + b.OutboundDroppedBytes,
        a.InboundDroppedPackets + b.InboundDroppedPackets, a.InboundDroppedBytes + b.InboundDroppedBytes);

    public static BindingMeter operator -(BindingMeter a, BindingMeter b) => new(
        a.OutboundPackets - b.OutboundPackets, a.OutboundBytes - b.OutboundBytes,
        a.InboundPackets - b.InboundPackets, a.InboundBytes - b.InboundBytes,
        a.OutboundDroppedPackets - b.OutboundDroppedPackets, a.OutboundDroppedBytes - b.OutboundDroppedBytes,
        a.InboundDroppedPackets - b.InboundDroppedPackets, a.InboundDroppedBytes - b.InboundDroppedBytes);

    public bool IsZero => this == default;
}
