using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Gateway.DataPlane.Policing;

/// <summary>
/// Bandwidth caps as the cloud enforces them: a token bucket per binding and per direction, shared by every worker
/// without a lock. A packet that finds too few tokens is dropped (<see cref="Translation.DropReason.BandwidthExceeded"/>),
/// never queued: "once the cap is reached, packet loss will occur".
/// </summary>
/// <remarks>
/// <para><b>The bucket.</b> Tokens are bytes and fill at the cap's rate, kbps × 1,000 / 8 bytes per second. The bucket
/// holds what the cap carries in 50 ms, never less than 1,514 bytes (one full Ethernet frame, so a cap below
/// 242 kbps still passes full-sized packets). A packet costs its IPv4 total length; a GSO super-frame costs the
/// segments it becomes (<see cref="PolicerLane.AdmitSegments"/>). A refused packet takes no tokens.</para>
/// <para><b>One word per bucket.</b> The bucket is kept as its "theoretical arrival time" (the generic cell rate
/// algorithm, ITU-T I.371 / RFC 2698's token bucket in time form): TAT is when the bucket would be full again. At time
/// <c>now</c> the bucket holds <c>(τ − (max(TAT, now) − now)) / t</c> bytes, where <c>t</c> is the time one byte
/// takes and <c>τ</c> the depth in time (50 ms, or the time of 1,514 bytes). A packet of cost <c>c</c> passes when
/// <c>max(TAT, now) + c − now ≤ τ</c> and then sets <c>TAT = max(TAT, now) + c</c>. Tokens and the refill time are
/// thus one 64-bit number, updated with one compare-and-swap: workers sharing a binding retry on a lost race, never
/// block, and never lose a charge.</para>
/// <para><b>Units, exactly.</b> Time is counted in ticks of 1/16 ns (<see cref="TicksPerNanosecond"/>). One byte at
/// <c>k</c> kbps takes <c>128,000,000 / k</c> ticks, kept as a 48.16 fixed-point number rounded up
/// (<see cref="TicksPerByteQ16"/>); a packet of <c>L</c> bytes costs <c>⌈L × q / 2¹⁶⌉</c> ticks. Every cap that
/// divides 128,000 Mbps (1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 40, 50, 64, 80, 100, 125, 200, 250, 400, 500, 1,000,
/// 2,000, … Mbps) is therefore exact to the byte; any other is policed at most one tick (1/16 ns) per packet slow.
/// A 64-bit tick count lasts 18 years of monotonic clock.</para>
/// <para><b>Layout.</b> One 64-byte stride of <see cref="long"/>s per binding id: outbound
/// <c>[TAT, q, τ, kbps]</c> then inbound <c>[TAT, q, τ, kbps]</c>; q = 0 means "not capped", which costs a load
/// and a compare. The control plane is the one writer of q, τ and kbps (<see cref="SetCaps"/>, under a lock against
/// other writers); a worker reading them while they change judges one packet with a mix of the old and new cap,
/// which is harmless. Changing a cap refills the bucket (TAT reset), so a raised cap shows at once.</para>
/// <para>Workers keep their own meters (<see cref="PolicerLane"/>, one per worker, plain increments); readers sum
/// the lanes (<see cref="MeterOf"/>).</para>
/// </remarks>
public sealed class Policer
{
    /// <summary>The policer's clock runs in 1/16 ns, so that byte times of common caps are whole numbers.</summary>
    public const long TicksPerNanosecond = 16;

    /// <summary>Ticks of 50 ms: the depth of every bucket, in time.</summary>
    public const long DepthTicks = 50_000_000 * TicksPerNanosecond;

    /// <summary>The least a bucket holds, in bytes: one full-sized Ethernet frame.</summary>
    public const int MinDepthBytes = 1514;

    /// <summary>128,000,000 × 2¹⁶: ticks per byte at 1 kbps, in 48.16 fixed point.</summary>
    private const long TicksPerByteAtOneKbpsQ16 = 128_000_000L << 16;

    internal const int Stride = 8;
    internal const int Outbound = 0;
    internal const int Inbound = 4;
    internal const int TatOffset = 0;
    internal const int CostOffset = 1;
    internal const int ToleranceOffset = 2;
    internal const int KbpsOffset = 3;

    private readonly Lock _writerLock = new();
    private long[] _slots;
    private PolicerLane[] _lanes = [];

    public Policer(int bindingIdCapacity = 1024)
    {
        _slots = new long[Math.Max(16, bindingIdCapacity) * Stride];
    }

    /// <summary>
    /// False: every binding is left unlimited whatever <see cref="SetCaps"/> is told (<c>gateway run --bandwidth-caps
    /// off</c>, for measuring the data path itself); the lanes still meter.
    /// </summary>
    public bool Enforcing { get; init; } = true;

    /// <summary>The per-binding words (read by the lanes on every packet).</summary>
    internal long[] Slots => Volatile.Read(ref _slots);

    /// <summary>The lanes created so far, one per worker.</summary>
    public IReadOnlyList<PolicerLane> Lanes => Volatile.Read(ref _lanes);

    /// <summary>A new lane for one worker: its clock and its meters. Workers never share a lane.</summary>
    public PolicerLane CreateLane()
    {
        lock (_writerLock)
        {
            var lane = new PolicerLane(this, _slots.Length / Stride);
            PolicerLane[] lanes = [.. _lanes, lane];
            Volatile.Write(ref _lanes, lanes);
            return lane;
        }
    }

    /// <summary>
    /// Sets the caps of <paramref name="bindingId"/> (a fresh id from the binding table, or the same binding with a
    /// new cap) and refills both buckets. <see cref="BandwidthCaps.Unlimited"/> removes the caps.
    /// </summary>
    public void SetCaps(int bindingId, BandwidthCaps caps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bindingId);
        caps.Validate();
        if (!Enforcing)
        {
            caps = BandwidthCaps.Unlimited;
        }
        lock (_writerLock)
        {
            long[] slots = _slots;
            if ((bindingId + 1L) * Stride > slots.Length)
            {
                slots = Grow(bindingId);
            }
            int at = bindingId * Stride;
            Write(slots, at + Outbound, caps.OutboundKbps);
            Write(slots, at + Inbound, caps.InboundKbps);
        }
    }

    /// <summary>The caps <see cref="SetCaps"/> gave <paramref name="bindingId"/> (unlimited when none).</summary>
    public BandwidthCaps CapsOf(int bindingId)
    {
        long[] slots = Slots;
        int at = bindingId * Stride;
        if (bindingId < 0 || at + Stride > slots.Length)
        {
            return BandwidthCaps.Unlimited;
        }
        return new BandwidthCaps(Volatile.Read(ref slots[at + Outbound + KbpsOffset]), Volatile.Read(ref slots[at + Inbound + KbpsOffset]));
    }

    /// <summary>What every lane metered for <paramref name="bindingId"/>, summed.</summary>
    public BindingMeter MeterOf(int bindingId)
    {
        BindingMeter sum = default;
        foreach (var lane in Lanes)
        {
            sum += lane.MeterOf(bindingId);
        }
        return sum;
    }

    /// <summary>The ticks a packet of <paramref name="bytes"/> takes at <paramref name="kbps"/>: ⌈bytes × q / 2¹⁶⌉.</summary>
    public static long CostTicks(int bytes, long kbps) => Cost(bytes, TicksPerByteQ16(kbps));

    /// <summary>Ticks per byte at <paramref name="kbps"/> in 48.16 fixed point, rounded up.</summary>
    public static long TicksPerByteQ16(long kbps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kbps, BandwidthCaps.MinKbps);
        return (TicksPerByteAtOneKbpsQ16 + kbps - 1) / kbps;
    }

    /// <summary>The depth of a bucket at <paramref name="kbps"/>, in ticks: 50 ms, or the time of 1,514 bytes if longer.</summary>
    public static long ToleranceTicks(long kbps) => Math.Max(DepthTicks, CostTicks(MinDepthBytes, kbps));

    /// <summary>The depth of a bucket at <paramref name="kbps"/> in bytes: what the cap carries in 50 ms, at least 1,514.</summary>
    public static long DepthBytes(long kbps) => Math.Max(kbps * 25 / 4, MinDepthBytes); // kbps × 1,000 / 8 bytes/s × 0.05 s

    /// <summary>Converts a monotonic time in nanoseconds to policer ticks.</summary>
    public static long TicksFromNanoseconds(long nanoseconds) => nanoseconds * TicksPerNanosecond;

    /// <summary>The monotonic clock (<see cref="Stopwatch"/>) in policer ticks, for live ports.</summary>
    public static long MonotonicTicks()
    {
        long timestamp = Stopwatch.GetTimestamp();
        return Stopwatch.Frequency == 1_000_000_000
            ? timestamp * TicksPerNanosecond
            : (long)(timestamp * (1e9 * TicksPerNanosecond / Stopwatch.Frequency));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long Cost(long bytes, long ticksPerByteQ16) => ((bytes * ticksPerByteQ16) + 0xFFFF) >> 16;

    private static void Write(long[] slots, int at, long kbps)
    {
        long q = kbps == 0 ? 0 : TicksPerByteQ16(kbps);
        // Parameters first, then the refill: a worker that sees the new TAT already has (or is about to read) the new cap.
        Volatile.Write(ref slots[at + ToleranceOffset], kbps == 0 ? 0 : ToleranceTicks(kbps));
        Volatile.Write(ref slots[at + KbpsOffset], kbps);
        Volatile.Write(ref slots[at + CostOffset], q);
        Volatile.Write(ref slots[at + TatOffset], long.MinValue); // "full since forever"
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private long[] Grow(int bindingId)
    {
        // Rare (the table handed out a higher id): a worker may still charge the old array for a moment; a charge
        // lost that way is one packet's worth of tokens, once.
        long capacity = Math.Max(bindingId + 1L, (long)_slots.Length / Stride * 2);
        var grown = new long[capacity * Stride];
        Array.Copy(_slots, grown, _slots.Length);
        Volatile.Write(ref _slots, grown);
        return grown;
    }
}
