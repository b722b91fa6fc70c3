using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Gateway.DataPlane.Memory;
using Gateway.DataPlane.Translation;

namespace Gateway.DataPlane.Counters;

/// <summary>
/// The counters of one worker. Only that worker writes them (plain increments, no interlocked
/// operations, so workers never contend); anyone may read them at any time: 64-bit loads are atomic,
/// so a reader sees each counter at some recent value, never a torn one.
/// </summary>
/// <remarks>
/// <para>Two ways to count. Frame by frame (<see cref="Received"/>, <see cref="Forwarded"/>, <see cref="Dropped"/>,
/// <see cref="BindingInbound"/>, ...): each call lands at once. Per batch (<see cref="Translator.TranslateEthernetBatch"/>):
/// the translator adds a batch up in locals, parks each frame's per-binding count here in a worker-private list
/// (<see cref="PendBinding"/>) and publishes everything once at the end of the batch (<see cref="Publish"/>), so the
/// lines readers look at are written once per batch, not once per frame, and the per-binding lines are written in one
/// tight loop after the batch's prefetches have brought them in.</para>
/// <para>A publication is bracketed by a sequence number (odd while it runs). Readers that want a consistent view
/// (<see cref="CounterSnapshot"/>, <see cref="ForBinding"/>) read again when the number moved, so a snapshot of a
/// worker that counts per batch always shows whole batches: received = forwarded + dropped, and the per-binding
/// counts add up to the forwarded ones. The worker never waits for a reader.</para>
/// </remarks>
public sealed class TrafficCounters
{
    // Layout of _totals. Padded by a cache line at both ends so another worker's counters,
    // allocated next to these, never share a line with them (false sharing).
    private const int Pad = 8;
    private const int Sequence = Pad;
    private const int ReceivedPackets = Pad + 1;
    private const int ReceivedBytes = Pad + 2;
    private const int ForwardedPackets = Pad + 3;
    private const int ForwardedBytes = Pad + 4;
    private const int DropsBase = Pad + 5; // packets then bytes per reason

    /// <summary>Per binding id: inbound packets, inbound bytes, outbound packets, outbound bytes (32 bytes).</summary>
    internal const int PerBinding = 4;

    /// <summary>Bytes of per-binding counters per binding id, per worker.</summary>
    public const int BytesPerBinding = PerBinding * sizeof(long);

    private readonly long[] _totals = new long[DropsBase + (2 * DropReasons.Count) + Pad];
    private PerBindingCounters _perBinding;

    // Worker-private: each frame's per-binding count for the batch being translated, as
    // (id × 4 + direction, bytes). Only the owning worker touches these; readers never do.
    private int[] _pendingSlots = new int[128];
    private int[] _pendingBytes = new int[128];
    private int _pendingCount;

    public TrafficCounters(int bindingIdCapacity = 1024)
    {
        _perBinding = new PerBindingCounters(Math.Max(16, bindingIdCapacity));
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
    public void BindingInbound(int bindingId, int bytes) => Bump(bindingId, BindingDirection.Inbound, bytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BindingOutbound(int bindingId, int bytes) => Bump(bindingId, BindingDirection.Outbound, bytes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe void Bump(int bindingId, int direction, int bytes)
    {
        PerBindingCounters perBinding = _perBinding;
        if ((uint)bindingId >= (uint)perBinding.Capacity)
        {
            perBinding = Grow(bindingId);
        }
        long* counts = perBinding.At(bindingId) + direction;
        counts[0]++;
        counts[1] += bytes;
        GC.KeepAlive(perBinding);
    }

    // ---------------------------------------------------------------- per batch

    /// <summary>
    /// Parks one frame's per-binding count (direction <see cref="BindingDirection.Inbound"/> or
    /// <see cref="BindingDirection.Outbound"/>) until <see cref="Publish"/>. Worker only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void PendBinding(int bindingId, int direction, int bytes)
    {
        int n = _pendingCount;
        int[] slots = _pendingSlots;
        if ((uint)n >= (uint)slots.Length)
        {
            slots = GrowPending();
        }
        slots[n] = (bindingId * PerBinding) + direction;
        _pendingBytes[n] = bytes;
        _pendingCount = n + 1;
    }

    /// <summary>Adds a batch's totals and its parked per-binding counts in one publication (see the remarks).</summary>
    internal unsafe void Publish(ref BatchTotals batch)
    {
        long[] totals = _totals;
        long sequence = totals[Sequence];
        // Odd: a publication is under way. The fence keeps the counter writes below from becoming visible before it.
        Volatile.Write(ref totals[Sequence], sequence + 1);
        Interlocked.MemoryBarrier();
        totals[ReceivedPackets] += batch.ReceivedPackets;
        totals[ReceivedBytes] += batch.ReceivedBytes;
        totals[ForwardedPackets] += batch.ForwardedPackets;
        totals[ForwardedBytes] += batch.ForwardedBytes;
        if (batch.DroppedPackets != 0)
        {
            for (int r = 1; r < DropReasons.Count; r++)
            {
                totals[DropsBase + (2 * r)] += batch.Drops[2 * r];
                totals[DropsBase + (2 * r) + 1] += batch.Drops[(2 * r) + 1];
            }
        }
        int n = _pendingCount;
        if (n != 0)
        {
            PerBindingCounters perBinding = _perBinding;
            int[] slots = _pendingSlots, bytes = _pendingBytes;
            long* counts = perBinding.Base;
            long limit = (long)perBinding.Capacity * PerBinding;
            for (int i = 0; i < n; i++)
            {
                int slot = slots[i];
                if ((uint)slot >= (ulong)limit)
                {
                    perBinding = Grow(slot / PerBinding);
                    counts = perBinding.Base;
                    limit = (long)perBinding.Capacity * PerBinding;
                }
                counts[slot]++;
                counts[slot + 1] += bytes[i];
            }
            GC.KeepAlive(perBinding);
            _pendingCount = 0;
        }
        // Even again (release: every write above is visible before it).
        Volatile.Write(ref totals[Sequence], sequence + 2);
    }

    /// <summary>
    /// Starts fetching the cache line of a binding's counters (x86 only; elsewhere a no-op), so that a batch's
    /// publication finds it in cache. A hint: it reads and changes nothing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void PrefetchBinding(int bindingId)
    {
        PerBindingCounters perBinding = _perBinding;
        if (Sse.IsSupported && (uint)bindingId < (uint)perBinding.Capacity)
        {
            Sse.Prefetch0(perBinding.At(bindingId));
        }
        GC.KeepAlive(perBinding);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private PerBindingCounters Grow(int bindingId)
    {
        // Rare: the table handed out an id beyond what this worker has seen. Readers may still hold
        // the old block; they read slightly stale values, which counters allow, and the collector frees it after them.
        PerBindingCounters old = _perBinding;
        int capacity = (int)Math.Min(int.MaxValue / PerBinding, Math.Max((long)bindingId + 1, (long)old.Capacity * 2));
        var grown = new PerBindingCounters(capacity);
        grown.CopyFrom(old);
        Volatile.Write(ref _perBinding, grown);
        return grown;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int[] GrowPending()
    {
        Array.Resize(ref _pendingSlots, _pendingSlots.Length * 2);
        Array.Resize(ref _pendingBytes, _pendingBytes.Length * 2);
        return _pendingSlots;
    }

    // ---------------------------------------------------------------- readers

    public long ReceivedPacketCount => Volatile.Read(ref _totals[ReceivedPackets]);
    public long ReceivedByteCount => Volatile.Read(ref _totals[ReceivedBytes]);
    public long ForwardedPacketCount => Volatile.Read(ref _totals[ForwardedPackets]);
    public long ForwardedByteCount => Volatile.Read(ref _totals[ForwardedBytes]);

    public long DropPacketCount(DropReason reason) => Volatile.Read(ref _totals[DropsBase + (2 * (int)reason)]);

    public long DropByteCount(DropReason reason) => Volatile.Read(ref _totals[DropsBase + (2 * (int)reason) + 1]);

    /// <summary>Bytes of this worker's per-binding counters (per-binding state outside the binding index).</summary>
    public long PerBindingBytes => (long)Volatile.Read(ref _perBinding).Capacity * BytesPerBinding;

    /// <summary>Which pages back the per-binding counters.</summary>
    public string PerBindingPages => Volatile.Read(ref _perBinding).Memory.Describe();

    /// <summary>
    /// Reads totals consistently: copies every total into <paramref name="into"/> (indexed like the counters) between
    /// two equal, even sequence numbers, so a worker that counts per batch is seen between batches.
    /// </summary>
    internal void ReadTotals(Span<long> into)
    {
        var spin = new SpinWait();
        while (true)
        {
            long before = Volatile.Read(ref _totals[Sequence]);
            for (int i = 0; i < TotalsCount; i++)
            {
                into[i] = Volatile.Read(ref _totals[ReceivedPackets + i]);
            }
            if ((before & 1) == 0 && Volatile.Read(ref _totals[Sequence]) == before)
            {
                return;
            }
            // A publication is under way (or the worker was preempted inside one): let it finish. The worker never waits.
            spin.SpinOnce();
        }
    }

    /// <summary>How many totals <see cref="ReadTotals"/> copies: received, forwarded (packets, bytes), then packets and bytes per drop reason.</summary>
    internal const int TotalsCount = 4 + (2 * DropReasons.Count);

    /// <summary>This worker's per-binding counters for one id (zero when it never counted that id).</summary>
    public unsafe BindingTraffic ForBinding(int bindingId)
    {
        var spin = new SpinWait();
        while (true)
        {
            long before = Volatile.Read(ref _totals[Sequence]);
            PerBindingCounters perBinding = Volatile.Read(ref _perBinding);
            if ((uint)bindingId >= (uint)perBinding.Capacity)
            {
                return default;
            }
            long* counts = perBinding.At(bindingId);
            var traffic = new BindingTraffic(
                Volatile.Read(ref counts[0]), Volatile.Read(ref counts[1]),
                Volatile.Read(ref counts[2]), Volatile.Read(ref counts[3]));
            GC.KeepAlive(perBinding);
            if ((before & 1) == 0 && Volatile.Read(ref _totals[Sequence]) == before)
            {
                return traffic;
            }
            spin.SpinOnce();
        }
    }

    /// <summary>The per-binding counters of one worker: 32 bytes per id, on huge pages when large.</summary>
    private sealed unsafe class PerBindingCounters
    {
        private readonly long* _base;

        public PerBindingCounters(int capacity)
        {
            Capacity = capacity;
            Memory = LargePageMemory.Allocate((long)capacity * BytesPerBinding);
            _base = (long*)Memory.Start;
        }

        public int Capacity { get; }

        public LargePageMemory Memory { get; }

        public long* Base => _base;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public long* At(int bindingId) => _base + ((nint)bindingId * PerBinding);

        public void CopyFrom(PerBindingCounters other)
        {
            Buffer.MemoryCopy(other._base, _base, (long)Capacity * BytesPerBinding, (long)Math.Min(other.Capacity, Capacity) * BytesPerBinding);
            GC.KeepAlive(other);
            GC.KeepAlive(this);
        }
    }
}

/// <summary>Where a binding's counts go in its four counters.</summary>
internal static class BindingDirection
{
    public const int Inbound = 0;
    public const int Outbound = 2;
}

/// <summary>A batch's totals, added up by the translator in locals and published once (<see cref="TrafficCounters.Publish"/>).</summary>
internal struct BatchTotals
{
    public long ReceivedPackets;
    public long ReceivedBytes;
    public long ForwardedPackets;
    public long ForwardedBytes;
    public long DroppedPackets;
    public DropTotals Drops;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Count(DropReason reason, int wireLength)
    {
        ReceivedPackets++;
        ReceivedBytes += wireLength;
        if (reason == DropReason.None)
        {
            ForwardedPackets++;
            ForwardedBytes += wireLength;
        }
        else
        {
            DroppedPackets++;
            Drops[2 * (int)reason]++;
            Drops[(2 * (int)reason) + 1] += wireLength;
        }
    }
}

/// <summary>Packets and bytes per drop reason, inline (no array): index 2 × reason and 2 × reason + 1.</summary>
[InlineArray(2 * DropReasons.Count)]
internal struct DropTotals
{
    private long _element;
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
