using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Translation;
using Gateway.Io.Ports;

namespace Gateway.Io.L2;

/// <summary>Timers and bounds of a <see cref="NeighbourCache"/>.</summary>
public sealed record NeighbourCacheOptions
{
    /// <summary>How long an answer stays good without a new one (Linux's base_reachable_time is 30 s).</summary>
    public int ReachableMilliseconds { get; init; } = 30_000;

    /// <summary>Time between ARP requests for an unresolved neighbour (RFC 1122 §2.3.2.1: at most one per second).</summary>
    public int RetryMilliseconds { get; init; } = 1_000;

    /// <summary>Requests sent before a resolution fails and its queued frames are dropped.</summary>
    public int MaxProbes { get; init; } = 3;

    /// <summary>Frames held per pending resolution (RFC 1122 §2.3.2.2 asks for at least one); more are dropped as queue-full.</summary>
    public int PendingFramesPerNeighbour { get; init; } = 8;

    /// <summary>Frames held for all pending resolutions of one segment together.</summary>
    public int PendingFramesTotal { get; init; } = 256;

    /// <summary>The largest ordinary frame that can be held; a larger one takes a super-frame buffer (below) or is dropped as queue-full.</summary>
    public int PendingFrameBytes { get; init; } = 9_216;

    /// <summary>
    /// GSO super-frames (up to 64 KiB) held for all pending resolutions of one segment together, whole and with their
    /// offload metadata, so that they leave exactly as they would have (segmented by the kernel beyond, or by the
    /// data path for a port without offloads). A resolution on a busy flow is rare (entries are refreshed before they
    /// expire), so a few buffers suffice; more are dropped as queue-full.
    /// </summary>
    public int PendingSuperFrames { get; init; } = 8;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ReachableMilliseconds, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryMilliseconds, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxProbes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(PendingFramesPerNeighbour, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(PendingFramesTotal, PendingFramesPerNeighbour);
        ArgumentOutOfRangeException.ThrowIfLessThan(PendingFrameBytes, Arp.MinimumFrameLength);
        ArgumentOutOfRangeException.ThrowIfNegative(PendingSuperFrames);
    }
}

/// <summary>
/// IPv4 → MAC for one Ethernet segment, filled by ARP (RFC 826), with expiry and a bounded queue of frames per
/// pending resolution (RFC 1122 §2.3.2.2).
/// </summary>
/// <remarks>
/// <para>Fast path (any worker thread, no lock, no allocation): a fresh entry's MAC is read with one volatile
/// load. Slow path (a miss, an expired entry): under the entry's lock the frame is copied into a pooled buffer
/// and an ARP request goes out through <see cref="IArpRequester"/>. An answer (<see cref="Learn"/>, on the
/// segment's own worker) fills the MAC and sends the queued frames. <see cref="Maintain"/> (one maintenance
/// thread) retries requests, fails resolutions after <see cref="NeighbourCacheOptions.MaxProbes"/> and drops
/// their frames as <see cref="DropReason.NeighbourUnresolved"/>, and forgets expired entries.</para>
/// <para>Entries are objects in a <see cref="ConcurrentDictionary{TKey,TValue}"/>: one allocation per new
/// neighbour, never per frame.</para>
/// </remarks>
internal sealed class NeighbourCache
{
    /// <summary>Marks a resolved MAC in <see cref="Neighbour.Mac"/>; 0 means "not resolved".</summary>
    private const long ResolvedBit = 1L << 48;

    private readonly ConcurrentDictionary<uint, Neighbour> _entries = new();
    private readonly NeighbourCacheOptions _options;
    private readonly IArpRequester _requester;
    private readonly FramePool _pool;

    /// <param name="maxFrameLength">The largest frame the segment's port carries (a super-frame buffer's size).</param>
    public NeighbourCache(NeighbourCacheOptions options, IArpRequester requester, int maxFrameLength = 0)
    {
        options.Validate();
        _options = options;
        _requester = requester;
        int superFrameBytes = Math.Max(maxFrameLength, options.PendingFrameBytes);
        _pool = new FramePool(options.PendingFramesTotal, options.PendingFrameBytes,
            superFrameBytes > options.PendingFrameBytes ? options.PendingSuperFrames : 0, superFrameBytes);
    }

    /// <summary>Milliseconds on a monotonic clock, the cache's notion of now.</summary>
    public static long Now => Environment.TickCount64;

    /// <summary>Number of entries (resolved or pending), for stats.</summary>
    public int Count => _entries.Count;

    /// <summary>Frames waiting for a resolution right now, for stats and tests.</summary>
    public int PendingFrames => _pool.InUse;

    /// <summary>
    /// Fast path: the MAC of <paramref name="ip"/> when it is resolved and fresh. Near the end of its lifetime a
    /// refresh request goes out (once per retry interval) while the entry keeps being used, so a busy flow never
    /// waits for a re-resolution.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetFresh(uint ip, long now, uint arpSenderIp, out MacAddress mac)
    {
        if (_entries.TryGetValue(ip, out Neighbour? n))
        {
            long packed = Volatile.Read(ref n.Mac);
            long age = now - Volatile.Read(ref n.ConfirmedAt);
            if (packed != 0 && age < _options.ReachableMilliseconds)
            {
                if (age >= _options.ReachableMilliseconds * 3L / 4)
                {
                    Refresh(n, now, arpSenderIp);
                }
                mac = new MacAddress((ulong)(packed & ~ResolvedBit));
                return true;
            }
        }
        mac = default;
        return false;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Refresh(Neighbour n, long now, uint arpSenderIp)
    {
        long last = Volatile.Read(ref n.LastRequestAt);
        if (now - last >= _options.RetryMilliseconds && Interlocked.CompareExchange(ref n.LastRequestAt, now, last) == last)
        {
            _requester.SendRequest(arpSenderIp, n.Ip);
        }
    }

    /// <summary>
    /// Slow path: holds <paramref name="frame"/> until <paramref name="ip"/> resolves, asking for it with an ARP
    /// request from <paramref name="arpSenderIp"/> unless one is already out. A frame that cannot be held is
    /// dropped here as <see cref="DropReason.QueueFull"/>, on the caller's counters.
    /// </summary>
    /// <returns>The MAC when the neighbour turned out to be resolved after all (a race with its answer): send now.</returns>
    public MacAddress? Enqueue(ReadOnlySpan<byte> frame, int wireLength, uint ip, uint arpSenderIp, long now, TrafficCounters counters) =>
        Enqueue(frame, VirtioNetHeader.None, wireLength, ip, arpSenderIp, now, counters);

    /// <summary>As <see cref="Enqueue(ReadOnlySpan{byte}, int, uint, uint, long, TrafficCounters)"/>, for a frame with offload metadata (kept with it).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public MacAddress? Enqueue(ReadOnlySpan<byte> frame, in VirtioNetHeader offload, int wireLength, uint ip, uint arpSenderIp, long now, TrafficCounters counters)
    {
        while (true)
        {
            Neighbour n = _entries.GetOrAdd(ip, static (key, depth) => new Neighbour(key, depth), _options.PendingFramesPerNeighbour);
            bool request = false;
            lock (n)
            {
                if (n.Removed)
                {
                    continue; // maintenance dropped it between the lookup and the lock: take the fresh one
                }
                if (n.Mac != 0)
                {
                    if (now - n.ConfirmedAt < _options.ReachableMilliseconds)
                    {
                        return new MacAddress((ulong)(n.Mac & ~ResolvedBit));
                    }
                    // Expired: resolve again from scratch, as a new neighbour would.
                    Volatile.Write(ref n.Mac, 0);
                    n.Probes = 0;
                }
                if (n.QueueCount == n.Queue.Length || !_pool.TryRent(frame.Length, out byte[]? buffer))
                {
                    counters.Undelivered(DropReason.QueueFull, wireLength);
                }
                else
                {
                    frame.CopyTo(buffer);
                    n.Queue[n.QueueCount++] = new PendingFrame(buffer, frame.Length, wireLength, offload);
                }
                if (n.Probes == 0)
                {
                    n.Probes = 1;
                    n.ArpSenderIp = arpSenderIp;
                    Volatile.Write(ref n.LastRequestAt, now);
                    request = true;
                }
            }
            if (request)
            {
                _requester.SendRequest(arpSenderIp, ip);
            }
            return null;
        }
    }

    /// <summary>
    /// Records that <paramref name="ip"/> is at <paramref name="mac"/> (an ARP reply, or a request from it) and sends
    /// the frames that waited for it through <paramref name="send"/>. With <paramref name="create"/> false only an
    /// existing entry is updated (RFC 826's merge step: an ARP packet not aimed at us must not fill the cache).
    /// </summary>
    public void Learn(uint ip, MacAddress mac, bool create, long now, IPendingFrameSender send)
    {
        Neighbour? n;
        if (create)
        {
            n = _entries.GetOrAdd(ip, static (key, depth) => new Neighbour(key, depth), _options.PendingFramesPerNeighbour);
        }
        else if (!_entries.TryGetValue(ip, out n))
        {
            return;
        }
        lock (n)
        {
            if (n.Removed)
            {
                return;
            }
            // The frames that waited go first, and only then is the MAC published: until then another worker's frame for
            // this neighbour takes the slow path, waits for this lock and leaves after them, so a flow whose first frames
            // waited for ARP is not reordered by its next ones overtaking them on the fast path.
            n.Probes = 0;
            for (int i = 0; i < n.QueueCount; i++)
            {
                ref PendingFrame pending = ref n.Queue[i];
                send.SendPending(pending.Buffer.AsSpan(0, pending.Length), pending.Offload, mac);
                _pool.Return(pending.Buffer);
                pending = default;
            }
            n.QueueCount = 0;
            // ConfirmedAt first, then the MAC (release): a fast-path reader that sees the MAC sees a fresh time.
            Volatile.Write(ref n.ConfirmedAt, now);
            Volatile.Write(ref n.Mac, (long)mac.Value | ResolvedBit);
        }
    }

    /// <summary>
    /// Periodic work (one thread): retries requests, fails resolutions that ran out of probes (their frames dropped
    /// as <see cref="DropReason.NeighbourUnresolved"/> on <paramref name="counters"/>), forgets expired entries.
    /// </summary>
    public void Maintain(long now, TrafficCounters counters) => Maintain(now, counters, dropAll: false);

    /// <summary>Drops every entry and queued frame (shutdown), counting the frames as unresolved.</summary>
    public void Clear(TrafficCounters counters) => Maintain(Now, counters, dropAll: true);

    private void Maintain(long now, TrafficCounters counters, bool dropAll)
    {
        foreach (var (ip, n) in _entries)
        {
            bool request = false;
            uint sender = 0;
            lock (n)
            {
                if (n.Mac != 0)
                {
                    if (dropAll || now - n.ConfirmedAt >= _options.ReachableMilliseconds)
                    {
                        Forget(ip, n);
                    }
                }
                else if (dropAll || now - n.LastRequestAt >= _options.RetryMilliseconds)
                {
                    if (dropAll || n.Probes >= _options.MaxProbes || n.Probes == 0)
                    {
                        for (int i = 0; i < n.QueueCount; i++)
                        {
                            counters.Undelivered(DropReason.NeighbourUnresolved, n.Queue[i].WireLength);
                            _pool.Return(n.Queue[i].Buffer);
                            n.Queue[i] = default;
                        }
                        n.QueueCount = 0;
                        Forget(ip, n);
                    }
                    else
                    {
                        n.Probes++;
                        Volatile.Write(ref n.LastRequestAt, now);
                        request = true;
                        sender = n.ArpSenderIp;
                    }
                }
            }
            if (request)
            {
                _requester.SendRequest(sender, ip);
            }
        }
    }

    private void Forget(uint ip, Neighbour n)
    {
        Debug.Assert(Monitor.IsEntered(n) && n.QueueCount == 0);
        n.Removed = true;
        _entries.TryRemove(KeyValuePair.Create(ip, n));
    }

    private sealed class Neighbour(uint ip, int depth)
    {
        public readonly uint Ip = ip;

        /// <summary>Bits 0–47 the MAC, bit 48 set when resolved; 0 while unresolved. Written under the lock, read without it.</summary>
        public long Mac;

        /// <summary>When the MAC was last confirmed (ms); written before <see cref="Mac"/>.</summary>
        public long ConfirmedAt;

        /// <summary>When the last request went out (ms); CAS-updated by refreshers, written under the lock otherwise.</summary>
        public long LastRequestAt;

        // Guarded by lock(this).
        public int Probes;
        public uint ArpSenderIp;
        public bool Removed;
        public readonly PendingFrame[] Queue = new PendingFrame[depth];
        public int QueueCount;
    }

    private record struct PendingFrame(byte[] Buffer, int Length, int WireLength, VirtioNetHeader Offload);
}

/// <summary>Sends ARP requests for a <see cref="NeighbourCache"/> (its segment's port, MAC and addresses).</summary>
internal interface IArpRequester
{
    void SendRequest(uint senderIp, uint targetIp);
}

/// <summary>Sends a frame that waited for its neighbour, once the neighbour's MAC is known.</summary>
internal interface IPendingFrameSender
{
    void SendPending(Span<byte> frame, in VirtioNetHeader offload, MacAddress destination);
}

/// <summary>
/// Buffers for frames waiting on ARP, allocated once: holding a frame never allocates. Two sizes: ordinary frames, and a
/// few buffers for GSO super-frames (up to 64 KiB).
/// </summary>
internal sealed class FramePool
{
    private readonly Stack<byte[]> _free;
    private readonly Stack<byte[]> _freeLarge;
    private readonly int _capacity;

    public FramePool(int count, int frameBytes, int largeCount = 0, int largeFrameBytes = 0)
    {
        FrameBytes = frameBytes;
        LargeFrameBytes = largeCount > 0 ? largeFrameBytes : 0;
        _capacity = count + largeCount;
        _free = new Stack<byte[]>(count);
        for (int i = 0; i < count; i++)
        {
            _free.Push(new byte[frameBytes]);
        }
        _freeLarge = new Stack<byte[]>(largeCount);
        for (int i = 0; i < largeCount; i++)
        {
            _freeLarge.Push(new byte[largeFrameBytes]);
        }
    }

    public int FrameBytes { get; }

    public int LargeFrameBytes { get; }

    public int InUse
    {
        get
        {
            lock (_free)
            {
                return _capacity - _free.Count - _freeLarge.Count;
            }
        }
    }

    /// <summary>A buffer of at least <paramref name="length"/> bytes; false when none is free (or none is that large).</summary>
    public bool TryRent(int length, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? buffer)
    {
        lock (_free)
        {
            if (length <= FrameBytes)
            {
                return _free.TryPop(out buffer);
            }
            buffer = null;
            return length <= LargeFrameBytes && _freeLarge.TryPop(out buffer);
        }
    }

    public void Return(byte[] buffer)
    {
        lock (_free)
        {
            (buffer.Length == FrameBytes ? _free : _freeLarge).Push(buffer);
        }
    }
}
