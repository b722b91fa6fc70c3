using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Gateway.DataPlane.Translation;

namespace Gateway.DataPlane.Counters;

/// <summary>
/// The counters of one worker. Only that worker writes them (plain increments, no interlocked
/// operations, so workers never contend); anyone may read them at any time: 64-bit loads are atomic,
/// so a reader sees each counter at some recent value, never a torn one.
/// </summary>
public sealed class TrafficCounters
{
    // Layout of _totals. Padded by a cache line at both ends so another worker's counters,
    // allocated next to these, never share a line with them (false sharing).
    private const int Pad = 8;
    private const int ReceivedPackets = Pad;
    private const int ReceivedBytes = Pad + 1;
    private const int ForwardedPackets = Pad + 2;
    private const int ForwardedBytes = Pad + 3;
    private const int DropsBase = Pad + 4; // packets then bytes per reason

    /// <summary>Per binding id: inbound packets, inbound bytes, outbound packets, outbound bytes.</summary>
    private const int PerBinding = 4;

    private readonly long[] _totals = new long[DropsBase + (2 * DropReasons.Count) + Pad];
    private long[] _perBinding;

    public TrafficCounters(int bindingIdCapacity = 1024)
    {
        _perBinding = new long[Math.Max(16, bindingIdCapacity) * PerBinding];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Received(int bytes)
    {
        _totals[ReceivedPackets]++;
        _totals[ReceivedBytes] += bytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Forwarded(int bytes)
    {
        _totals[ForwardedPackets]++;
        _totals[ForwardedBytes] += bytes;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Dropped(DropReason reason, int bytes)
    {
        int i = DropsBase + (2 * (int)reason);
        _totals[i]++;
        _totals[i + 1] += bytes;
    }

    /// <summary>
    /// A frame the translator forwarded could not be delivered after all (its next hop did not resolve, a queue was
    /// full): it moves from forwarded to dropped. The counters of a worker that only ever does this (a neighbour
    /// cache's expiry) go negative in forwarded; summed with the translating workers' (<see cref="CounterSnapshot"/>)
    /// every frame is counted once, forwarded or dropped.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Undelivered(DropReason reason, int bytes)
    {
        _totals[ForwardedPackets]--;
        _totals[ForwardedBytes] -= bytes;
        Dropped(reason, bytes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BindingInbound(int bindingId, int bytes) => Bump(bindingId, 0, bytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BindingOutbound(int bindingId, int bytes) => Bump(bindingId, 2, bytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Bump(int bindingId, int direction, int bytes)
    {
        long[] perBinding = _perBinding;
        int i = (bindingId * PerBinding) + direction;
        if ((uint)(i + 1) >= (uint)perBinding.Length)
        {
            perBinding = Grow(bindingId);
        }
        perBinding[i]++;
        perBinding[i + 1] += bytes;
    }

    /// <summary>
    /// Starts fetching the cache line of a binding's counters (x86 only; elsewhere a no-op). A hint for batched
    /// translation: with a million bindings the counters span tens of megabytes and each bump would otherwise wait
    /// for memory. Unpinned pointer: a stale line after a GC move is harmless, a prefetch never faults.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void PrefetchBinding(int bindingId)
    {
        long[] perBinding = _perBinding;
        int i = bindingId * PerBinding;
        if (Sse.IsSupported && (uint)i < (uint)perBinding.Length)
        {
            Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(perBinding), i)));
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private long[] Grow(int bindingId)
    {
        // Rare: the table handed out an id beyond what this worker has seen. Readers may still hold
        // the old array; they read slightly stale values, which counters allow.
        int capacity = (int)Math.Min(int.MaxValue / PerBinding, Math.Max((long)bindingId + 1, (long)_perBinding.Length / PerBinding * 2));
        var grown = new long[capacity * PerBinding];
        Array.Copy(_perBinding, grown, _perBinding.Length);
        Volatile.Write(ref _perBinding, grown);
        return grown;
    }

    public long ReceivedPacketCount => Volatile.Read(ref _totals[ReceivedPackets]);
    public long ReceivedByteCount => Volatile.Read(ref _totals[ReceivedBytes]);
    public long ForwardedPacketCount => Volatile.Read(ref _totals[ForwardedPackets]);
    public long ForwardedByteCount => Volatile.Read(ref _totals[ForwardedBytes]);

    public long DropPacketCount(DropReason reason) => Volatile.Read(ref _totals[DropsBase + (2 * (int)reason)]);

    public long DropByteCount(DropReason reason) => Volatile.Read(ref _totals[DropsBase + (2 * (int)reason) + 1]);

    /// <summary>This worker's per-binding counters for one id (zero when it never counted that id).</summary>
    public BindingTraffic ForBinding(int bindingId)
    {
        long[] perBinding = Volatile.Read(ref _perBinding);
        int i = bindingId * PerBinding;
        if (bindingId < 0 || i + PerBinding > perBinding.Length)
        {
            return default;
        }
        return new BindingTraffic(
            Volatile.Read(ref perBinding[i]), Volatile.Read(ref perBinding[i + 1]),
            Volatile.Read(ref perBinding[i + 2]), Volatile.Read(ref perBinding[i + 3]));
    }
}

/// <summary>Packets and bytes one binding carried, per direction.</summary>
public readonly record struct BindingTraffic(long InboundPackets, long InboundBytes, long OutboundPackets, long OutboundBytes)
{
    public static BindingTraffic operator +(BindingTraffic a, BindingTraffic b) => new(
        a.InboundPackets + b.InboundPackets, a.InboundBytes + b.InboundBytes,
        a.OutboundPackets + b.OutboundPackets, a.OutboundBytes + b.OutboundBytes);

    public static BindingTraffic operator -(BindingTraffic a, BindingTraffic b) => new(
        a.InboundPackets - b.InboundPackets, a.InboundBytes - b.InboundBytes,
        a.OutboundPackets - b.OutboundPackets, a.OutboundBytes - b.OutboundBytes);
}
