using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
using Gateway.DataPlane.Policing;
using Gateway.Packets;

namespace Gateway.DataPlane.Translation;

/// <summary>Which rewrites a port allows.</summary>
public enum TranslateMode : byte
{
    /// <summary>Replay: inferred per frame. Destination bound public → DNAT; source bound private → SNAT; both → hairpin.</summary>
    Infer,
    /// <summary>A frame from the internet port: only DNAT of the destination (hairpin does not apply).</summary>
    FromInternet,
    /// <summary>A frame from the VPC port: SNAT of the source is required; DNAT too when the destination is another bound public address (hairpin).</summary>
    FromVpc,
}

/// <summary>
/// The 1:1 NAT translator: one frame in, rewritten in place, a verdict out.
/// </summary>
/// <remarks>
/// <para>Inbound (DNAT): the IPv4 destination is a bound public address and becomes its private one.
/// Outbound (SNAT): the IPv4 source is a bound private address and becomes its public one. Hairpin: both.
/// ICMP errors also translate the packet they quote (RFC 5508 §3.3, RFC 7857 §2.9 analogues for 1:1 NAT).</para>
/// <para>Checksums are updated incrementally (RFC 1624 eqn. 3), never recomputed, so a corrupt TCP/UDP
/// checksum stays corrupt and a payload cut off by a capture's snap length is never needed.</para>
/// <para>Lengths are judged against the frame's length on the wire (<c>wireLength</c>), which may exceed the
/// captured span; a field beyond the captured bytes is absent and left alone, not a reason to drop.</para>
/// <para>No allocation and no exception per frame: every outcome is a <see cref="DropReason"/>.</para>
/// </remarks>
public sealed class Translator
{
    private readonly BindingTable _bindings;

    public Translator(BindingTable bindings)
    {
        ArgumentNullException.ThrowIfNull(bindings);
        _bindings = bindings;
    }

    public BindingTable Bindings => _bindings;

    /// <summary>Translates an Ethernet frame (802.1Q/802.1ad tags allowed and kept) and counts the outcome.</summary>
    /// <param name="frame">The captured bytes, rewritten in place.</param>
    /// <param name="wireLength">The frame's original length (≥ <c>frame.Length</c> for a snap-length-cut capture).</param>
    /// <returns><see cref="DropReason.None"/> to forward, otherwise why the frame is dropped.</returns>
    public DropReason TranslateEthernet(Span<byte> frame, int wireLength, TrafficCounters counters, TranslateMode mode = TranslateMode.Infer) =>
        TranslateEthernet(frame, wireLength, counters, mode, partialChecksum: false, out _);

    /// <summary>As <see cref="TranslateEthernet(Span{byte}, int, TrafficCounters, TranslateMode)"/>, with the bandwidth caps and meters of <paramref name="policing"/>.</summary>
    /// <param name="policing">The worker's lane of the bandwidth policer (its clock and meters); null: no caps, no metering.</param>
    public DropReason TranslateEthernet(Span<byte> frame, int wireLength, TrafficCounters counters, TranslateMode mode, PolicerLane? policing) =>
        TranslateEthernet(frame, wireLength, counters, mode, partialChecksum: false, out _, policing);

    /// <summary>As <see cref="TranslateEthernet(Span{byte}, int, TrafficCounters, TranslateMode)"/>, for a frame whose transport checksum may be partial.</summary>
    /// <param name="partialChecksum">
    /// The transport checksum (TCP, UDP, or ICMP's own) is partial, to be finished later over the bytes from the
    /// transport header on (virtio NEEDS_CSUM with csum_start at the transport header, as the port checked): a TCP/UDP
    /// field holds the pseudo-header sum and is updated as a sum (<see cref="Checksum.UpdatePartial32"/>); ICMP's is
    /// left alone, since every byte it will cover is final only after translation.
    /// </param>
    public DropReason TranslateEthernet(Span<byte> frame, int wireLength, TrafficCounters counters, TranslateMode mode, bool partialChecksum) =>
        TranslateEthernet(frame, wireLength, counters, mode, partialChecksum, out _);

    /// <summary>
    /// As <see cref="TranslateEthernet(Span{byte}, int, TrafficCounters, TranslateMode)"/>, and says which bindings
    /// translated the frame (their dense ids, for per-binding state such as a policer; <see cref="BindingIds.None"/> when dropped).
    /// </summary>
    public DropReason TranslateEthernet(Span<byte> frame, int wireLength, TrafficCounters counters, TranslateMode mode, out BindingIds bindings) =>
        TranslateEthernet(frame, wireLength, counters, mode, partialChecksum: false, out bindings);

    /// <summary>
    /// The full form: a possibly partial transport checksum (see <see cref="TranslateEthernet(Span{byte}, int, TrafficCounters, TranslateMode, bool)"/>),
    /// the bindings that translated the frame, and the bandwidth caps (<paramref name="policing"/>: the packet's IPv4
    /// total length is charged before any byte is written; null: no caps, no metering).
    /// </summary>
    public DropReason TranslateEthernet(Span<byte> frame, int wireLength, TrafficCounters counters, TranslateMode mode, bool partialChecksum, out BindingIds bindings, PolicerLane? policing = null)
    {
        ArgumentNullException.ThrowIfNull(counters);
        DropReason reason = TranslateEthernetFrame(frame, wireLength, mode, partialChecksum, out bindings, policing);
        CountFrame(counters, reason, wireLength, bindings);
        return reason;
    }

    /// <summary>Translates a bare IPv4 packet (raw-IP and Linux cooked captures) and counts the outcome.</summary>
    public DropReason TranslateIpv4(Span<byte> packet, int wireLength, TrafficCounters counters, TranslateMode mode = TranslateMode.Infer) =>
        TranslateIpv4(packet, wireLength, counters, mode, out _);

    /// <summary>As <see cref="TranslateIpv4(Span{byte}, int, TrafficCounters, TranslateMode)"/>, with the bandwidth caps and meters of <paramref name="policing"/> (null: none).</summary>
    public DropReason TranslateIpv4(Span<byte> packet, int wireLength, TrafficCounters counters, TranslateMode mode, PolicerLane? policing) =>
        TranslateIpv4(packet, wireLength, counters, mode, out _, policing);

    /// <summary>As <see cref="TranslateIpv4(Span{byte}, int, TrafficCounters, TranslateMode)"/>, and says which bindings translated the packet.</summary>
    public DropReason TranslateIpv4(Span<byte> packet, int wireLength, TrafficCounters counters, TranslateMode mode, out BindingIds bindings, PolicerLane? policing = null)
    {
        ArgumentNullException.ThrowIfNull(counters);
        DropReason reason = TranslateIpv4Core(packet, wireLength, mode, out bindings, policing: policing);
        CountFrame(counters, reason, wireLength, bindings);
        return reason;
    }

    /// <summary>Counts one frame at once: received, then forwarded or dropped, then its bindings' traffic.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CountFrame(TrafficCounters counters, DropReason reason, int wireLength, BindingIds bindings)
    {
        counters.Received(wireLength);
        if (reason == DropReason.None)
        {
            counters.Forwarded(wireLength);
            if (bindings.Outbound >= 0)
            {
                counters.BindingOutbound(bindings.Outbound, wireLength);
            }
            if (bindings.Inbound >= 0)
            {
                counters.BindingInbound(bindings.Inbound, wireLength);
            }
        }
        else
        {
            counters.Dropped(reason, wireLength);
        }
    }

    /// <summary>One Ethernet frame, not counted: the fast path when the frame is the common kind, else the general one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DropReason TranslateEthernetFrame(Span<byte> frame, int wireLength, TranslateMode mode, bool partialChecksum, out BindingIds bindings, PolicerLane? policing)
    {
        int l3 = CommonFrame.Classify(frame, wireLength, out bool tcp);
        if (l3 > 0)
        {
            return TranslateCommon(ref MemoryMarshal.GetReference(frame), l3, tcp, mode, partialChecksum, out bindings, policing);
        }
        return TranslateEthernetGeneral(frame, wireLength, mode, out bindings, partialChecksum, policing);
    }

    /// <summary>The general path for an Ethernet frame: any tags, options, fragments, ICMP, truncation, and every drop.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private DropReason TranslateEthernetGeneral(Span<byte> frame, int wireLength, TranslateMode mode, out BindingIds bindings, bool partialChecksum = false, PolicerLane? policing = null)
    {
        int l3 = FindIpv4(frame, out DropReason reason);
        if (reason != DropReason.None)
        {
            bindings = BindingIds.None;
            return reason;
        }
        return TranslateIpv4Core(frame.Slice(l3), wireLength - l3, mode, out bindings, partialChecksum, policing);
    }

    /// <summary>
    /// Translates a batch of Ethernet frames held in one buffer: the same bytes, verdicts and counts as
    /// <see cref="TranslateEthernet(Span{byte}, int, TrafficCounters, TranslateMode)"/> frame by frame, done in stages
    /// as VPP's vector nodes do. Stage 1 classifies every frame (the common kind, see <see cref="CommonFrame"/>, or
    /// not) and asks the CPU to fetch the index buckets its lookups will read; stage 2 translates (common frames on
    /// the straight-line path, the rest on the general one), parks each frame's per-binding count and prefetches its
    /// counter line; stage 3 publishes the batch's counts once (<see cref="TrafficCounters"/>). With a table larger
    /// than the caches, the batch's memory reads overlap instead of queueing one by one.
    /// </summary>
    /// <param name="buffer">The frames, rewritten in place.</param>
    /// <param name="frames">Where each frame sits in <paramref name="buffer"/> and its length on the wire.</param>
    /// <param name="verdicts">Receives each frame's verdict, in order; at least as long as <paramref name="frames"/>.</param>
    /// <param name="policing">The worker's lane of the bandwidth policer, its <see cref="PolicerLane.Now"/> set for the batch; null: no caps, no metering.</param>
    public void TranslateEthernetBatch(Span<byte> buffer, ReadOnlySpan<BatchFrame> frames, Span<DropReason> verdicts, TrafficCounters counters, TranslateMode mode = TranslateMode.Infer, PolicerLane? policing = null) =>
        TranslateEthernetBatch(buffer, frames, verdicts, default, counters, mode, policing);

    /// <summary>
    /// As <see cref="TranslateEthernetBatch(Span{byte}, ReadOnlySpan{BatchFrame}, Span{DropReason}, TrafficCounters, TranslateMode)"/>,
    /// and fills <paramref name="bindings"/> (when not empty; then at least as long as <paramref name="frames"/>) with the
    /// bindings that translated each frame.
    /// </summary>
    public void TranslateEthernetBatch(Span<byte> buffer, ReadOnlySpan<BatchFrame> frames, Span<DropReason> verdicts, Span<BindingIds> bindings, TrafficCounters counters, TranslateMode mode = TranslateMode.Infer, PolicerLane? policing = null)
    {
        ArgumentNullException.ThrowIfNull(counters);
        if (verdicts.Length < frames.Length)
        {
            ThrowSpanTooShort(nameof(verdicts), frames.Length, verdicts.Length);
        }
        if (!bindings.IsEmpty && bindings.Length < frames.Length)
        {
            ThrowSpanTooShort(nameof(bindings), frames.Length, bindings.Length);
        }
        Span<int> l3 = stackalloc int[StageFrames];
        for (int start = 0; start < frames.Length; start += StageFrames)
        {
            int count = Math.Min(StageFrames, frames.Length - start);
            TranslateStages(buffer, frames.Slice(start, count), verdicts.Slice(start, count),
                bindings.IsEmpty ? default : bindings.Slice(start, count), l3, counters, mode, policing);
        }
    }

    /// <summary>Frames per pass of the stages: enough misses in flight to cover memory latency, few enough to stay in L1.</summary>
    private const int StageFrames = 64;

    /// <summary>Marks a frame for the general path in stage 1 (the common kind has its IPv4 header at 14 or 18).</summary>
    private const int GeneralPath = 0;

    /// <summary>Bit 8 of a stage-1 entry: the common frame is TCP (else UDP). The low bits are the IPv4 header's offset.</summary>
    private const int TcpFlag = 0x100;

    /// <summary>
    /// Below this many bindings the index and counters stay in L1/L2 and the prefetch pass does not pay for itself:
    /// frames are classified and translated in one pass instead. Measured with 'gateway bench' at 1,000 and 65,536
    /// bindings (perf/README.md).
    /// </summary>
    private const int PrefetchMinBindings = 8192;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void TranslateStages(Span<byte> buffer, ReadOnlySpan<BatchFrame> frames, Span<DropReason> verdicts, Span<BindingIds> bindingsOut, Span<int> l3, TrafficCounters counters, TranslateMode mode, PolicerLane? policing)
    {

        // Stage 1 (large tables only): classify, and start the index reads of every common frame (a hint only).
        bool staged = _bindings.Count >= PrefetchMinBindings;
        if (staged)
        {
            BindingIndex inbound = _bindings.InboundIndex, outbound = _bindings.OutboundIndex;
            for (int i = 0; i < frames.Length; i++)
            {
                BatchFrame f = frames[i];
                Span<byte> frame = buffer.Slice(f.Offset, f.Length);
                int at = CommonFrame.Classify(frame, f.WireLength, out bool tcp);
                l3[i] = at == GeneralPath ? GeneralPath : at | (tcp ? TcpFlag : 0);
                if (at != GeneralPath)
                {
                    ref byte ip = ref Unsafe.Add(ref MemoryMarshal.GetReference(frame), at);
                    if (mode != TranslateMode.FromInternet)
                    {
                        outbound.Prefetch(ReadBigEndian32(ref Unsafe.Add(ref ip, Ipv4.SourceOffset)));
                    }
                    inbound.Prefetch(ReadBigEndian32(ref Unsafe.Add(ref ip, Ipv4.DestinationOffset)));
                }
            }
        }

        // Stage 1b (large tables, caps on): start fetching the policer's lines (kept out of line, so this loop stays
        // small enough for the JIT to inline the fast path into it).
        if (staged && policing is not null)
        {
            PrefetchPolicing(buffer, frames, l3, mode, policing);
        }

        // Stage 2: translate (common frames on the straight-line path), park the per-binding counts and, for large
        // tables, prefetch their counter lines for stage 3.
        var totals = default(BatchTotals);
        bool wantBindings = !bindingsOut.IsEmpty;
        for (int i = 0; i < frames.Length; i++)
        {
            BatchFrame f = frames[i];
            Span<byte> frame = buffer.Slice(f.Offset, f.Length);
            int entry;
            if (staged)
            {
                entry = l3[i];
            }
            else
            {
                int at = CommonFrame.Classify(frame, f.WireLength, out bool tcp);
                entry = at == GeneralPath ? GeneralPath : at | (tcp ? TcpFlag : 0);
            }
            DropReason reason;
            BindingIds ids;
            if (entry != GeneralPath)
            {
                reason = TranslateCommon(ref MemoryMarshal.GetReference(frame), entry & 0xFF, (entry & TcpFlag) != 0, mode, partialChecksum: false, out ids, policing);
            }
            else
            {
                reason = TranslateEthernetGeneral(frame, f.WireLength, mode, out ids, policing: policing);
            }
            verdicts[i] = reason;
            if (wantBindings)
            {
                bindingsOut[i] = ids;
            }
            totals.Count(reason, f.WireLength);
            if (reason == DropReason.None)
            {
                if (ids.Outbound >= 0)
                {
                    counters.PendBinding(ids.Outbound, BindingDirection.Outbound, f.WireLength);
                    if (staged)
                    {
                        counters.PrefetchBinding(ids.Outbound);
                    }
                }
                if (ids.Inbound >= 0)
                {
                    counters.PendBinding(ids.Inbound, BindingDirection.Inbound, f.WireLength);
                    if (staged)
                    {
                        counters.PrefetchBinding(ids.Inbound);
                    }
                }
            }
        }

        // Stage 3: one publication for the whole batch.
        counters.Publish(ref totals);
    }

    /// <summary>
    /// Stage 1b of <see cref="TranslateStages"/>, with caps on and a large table: the buckets have been asked for; find
    /// each common frame's bindings and start fetching the lines stage 2's charge will write (the bindings' buckets and
    /// this lane's meters), which would otherwise be two more misses per frame in a table larger than the cache
    /// (perf/caps-cost.sh).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void PrefetchPolicing(Span<byte> buffer, ReadOnlySpan<BatchFrame> frames, Span<int> l3, TranslateMode mode, PolicerLane policing)
    {
        BindingIndex inbound = _bindings.InboundIndex, outbound = _bindings.OutboundIndex;
        for (int i = 0; i < frames.Length; i++)
        {
            int at = l3[i];
            if (at == GeneralPath)
            {
                continue;
            }
            BatchFrame f = frames[i];
            ref byte ip = ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer.Slice(f.Offset, f.Length)), at & 0xFF);
            if (mode != TranslateMode.FromInternet && outbound.TryGet(ReadBigEndian32(ref Unsafe.Add(ref ip, Ipv4.SourceOffset)), out _, out int outboundId))
            {
                policing.PrefetchBinding(outboundId);
            }
            if (inbound.TryGet(ReadBigEndian32(ref Unsafe.Add(ref ip, Ipv4.DestinationOffset)), out _, out int inboundId))
            {
                policing.PrefetchBinding(inboundId);
            }
        }
    }

    /// <summary>
    /// The straight-line path for the common frame (<see cref="CommonFrame.Classify"/> said yes): both lookups, both
    /// addresses and both checksums rewritten with one combined RFC 1624 delta, no branch on the direction.
    /// </summary>
    /// <remarks>
    /// One delta for several changed words equals applying them one after another: one's-complement addition is
    /// associative and a fold of a non-zero sum is never 0, so even the ±0 representation of the result is the one the
    /// general path (which updates word by word) writes; the translator tests compare the two byte for byte.
    /// Measured: 'gateway bench' and Translation/TranslateBenchmarks (perf/README.md).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DropReason TranslateCommon(ref byte frame, int l3, bool tcp, TranslateMode mode, bool partialChecksum, out BindingIds bindings, PolicerLane? policing)
    {
        ref byte ip = ref Unsafe.Add(ref frame, l3);
        uint source = ReadBigEndian32(ref Unsafe.Add(ref ip, Ipv4.SourceOffset));
        uint destination = ReadBigEndian32(ref Unsafe.Add(ref ip, Ipv4.DestinationOffset));
        uint newSource = 0, newDestination = 0;
        int outboundId = -1, inboundId = -1;
        bool snat = mode != TranslateMode.FromInternet && _bindings.OutboundIndex.TryGet(source, out newSource, out outboundId);
        bool dnat = (mode != TranslateMode.FromVpc || snat) && _bindings.InboundIndex.TryGet(destination, out newDestination, out inboundId);
        if (!(snat | dnat) || (mode == TranslateMode.FromVpc && !snat))
        {
            bindings = BindingIds.None;
            return DropReason.NoBinding;
        }
        if (policing is not null && !policing.Admit(snat ? outboundId : -1, dnat ? inboundId : -1, ReadBigEndian16(ref Unsafe.Add(ref ip, Ipv4.TotalLengthOffset))))
        {
            bindings = BindingIds.None;
            return DropReason.BandwidthExceeded; // charged as in the general path, before any byte is written
        }

        // The change of each address as one's-complement words, ~old + new; nothing for an address left alone.
        uint delta = (snat ? AddressDelta(source, newSource) : 0) + (dnat ? AddressDelta(destination, newDestination) : 0);
        WriteBigEndian32(ref Unsafe.Add(ref ip, Ipv4.SourceOffset), snat ? newSource : source);
        WriteBigEndian32(ref Unsafe.Add(ref ip, Ipv4.DestinationOffset), dnat ? newDestination : destination);
        ref byte ipChecksum = ref Unsafe.Add(ref ip, Ipv4.ChecksumOffset);
        WriteBigEndian16(ref ipChecksum, ApplyDelta(ReadBigEndian16(ref ipChecksum), delta));

        // TCP and UDP checksums cover the addresses through the pseudo-header (RFC 9293 §3.1, RFC 768).
        ref byte l4Checksum = ref Unsafe.Add(ref ip, Ipv4.MinHeaderLength + (tcp ? Tcp.ChecksumOffset : Udp.ChecksumOffset));
        ushort checksum = ReadBigEndian16(ref l4Checksum);
        if (partialChecksum)
        {
            // A partial checksum is the pseudo-header sum itself: fold(sum + ~old + new), no complements, no UDP 0 rule
            // (Checksum.UpdatePartial32; net/core/utils.c inet_proto_csum_replace4 with CHECKSUM_PARTIAL).
            WriteBigEndian16(ref l4Checksum, Checksum.FoldTo16(checksum + delta));
        }
        else if (tcp || checksum != 0)
        {
            checksum = ApplyDelta(checksum, delta);
            // UDP: 0 means "no checksum"; a computed 0 is sent as all ones (RFC 768).
            WriteBigEndian16(ref l4Checksum, !tcp && checksum == 0 ? (ushort)0xFFFF : checksum);
        }
        bindings = new BindingIds(outboundId, inboundId);
        return DropReason.None;
    }

    /// <summary>~old + new over the two 16-bit words of an address (RFC 1624 eqn. 3's contribution of one field).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint AddressDelta(uint oldValue, uint newValue) =>
        (ushort)~(oldValue >> 16) + (uint)(ushort)~oldValue + (newValue >> 16) + (newValue & 0xFFFF);

    /// <summary>HC' = ~(~HC + delta), folded (RFC 1624 eqn. 3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ApplyDelta(ushort checksum, uint delta) => (ushort)~Checksum.FoldTo16((ushort)~checksum + delta);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadBigEndian32(ref byte at) => BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref at));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteBigEndian32(ref byte at, uint value) => Unsafe.WriteUnaligned(ref at, BinaryPrimitives.ReverseEndianness(value));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ReadBigEndian16(ref byte at) => BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref at));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteBigEndian16(ref byte at, ushort value) => Unsafe.WriteUnaligned(ref at, BinaryPrimitives.ReverseEndianness(value));

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowSpanTooShort(string name, int frames, int length) =>
        throw new ArgumentException($"a batch of {frames} frames needs as many {name}; the span holds {length}.", name);

    /// <summary>
    /// Offset of the IPv4 header after the Ethernet header and up to <see cref="Ethernet.MaxVlanTags"/> VLAN tags;
    /// <paramref name="reason"/> is <see cref="DropReason.None"/> when the frame carries IPv4 (its header is not checked here).
    /// </summary>
    public static int FindIpv4(ReadOnlySpan<byte> frame, out DropReason reason)
    {
        int typeOffset = Ethernet.TypeOffset;
        if (frame.Length < Ethernet.HeaderLength)
        {
            reason = DropReason.Malformed;
            return 0;
        }
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(typeOffset));
        for (int tags = 0; Ethernet.IsVlanTag(etherType); tags++)
        {
            typeOffset += Ethernet.VlanTagLength;
            if (tags == Ethernet.MaxVlanTags || typeOffset + 2 > frame.Length)
            {
                reason = DropReason.Malformed;
                return 0;
            }
            etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(typeOffset));
        }
        reason = etherType == Ethernet.TypeIpv4 ? DropReason.None : DropReason.NotIpv4;
        return typeOffset + 2;
    }

    /// <summary>The general path from the IPv4 header on; counts nothing (the caller does, once per frame or per batch).</summary>
    private DropReason TranslateIpv4Core(Span<byte> ip, int wireLength, TranslateMode mode, out BindingIds bindings, bool partialChecksum = false, PolicerLane? policing = null)
    {
        bindings = BindingIds.None;
        // ---- The IPv4 header: captured whole, consistent, checksum verifies (RFC 791 §3.1, RFC 1812 §5.2.2). ----
        if (ip.Length < Ipv4.MinHeaderLength)
        {
            return DropReason.Malformed;
        }
        int versionIhl = ip[Ipv4.VersionIhlOffset];
        int headerLength = (versionIhl & 0x0F) << 2;
        if ((versionIhl >> 4) != 4 || headerLength < Ipv4.MinHeaderLength || headerLength > ip.Length)
        {
            return DropReason.Malformed;
        }
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(Ipv4.TotalLengthOffset));
        if (totalLength < headerLength || totalLength > wireLength)
        {
            return DropReason.Malformed;
        }
        if (!Checksum.Verifies(ip.Slice(0, headerLength)))
        {
            return DropReason.BadIpChecksum;
        }

        // The packet as far as it was captured, never past its total length: trailing Ethernet padding is not data.
        Span<byte> packet = ip.Slice(0, Math.Min(totalLength, ip.Length));
        byte protocol = packet[Ipv4.ProtocolOffset];
        bool hasTransportHeader = (BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(Ipv4.FlagsFragmentOffset)) & Ipv4.FragmentOffsetMask) == 0;

        // ---- The transport header must fit in the total length (unfragmented packets and first fragments). ----
        int quotedOffset = -1;
        if (hasTransportHeader)
        {
            int minimum = protocol switch
            {
                Ipv4.ProtocolTcp => Tcp.MinHeaderLength,
                Ipv4.ProtocolUdp => Udp.HeaderLength,
                Ipv4.ProtocolIcmp => Icmp.HeaderLength,
                _ => 0,
            };
            if (headerLength + minimum > totalLength)
            {
                return DropReason.Malformed;
            }
            if (protocol == Ipv4.ProtocolIcmp && packet.Length > headerLength && Icmp.IsError(packet[headerLength]))
            {
                quotedOffset = FindQuotedPacket(packet, headerLength, totalLength);
                if (quotedOffset == QuotedMalformed)
                {
                    return DropReason.Malformed;
                }
            }
        }

        // ---- Bindings: which rewrites apply. ----
        uint source = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(Ipv4.SourceOffset));
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(packet.Slice(Ipv4.DestinationOffset));
        uint newSource = 0, newDestination = 0;
        int outboundId = -1, inboundId = -1;
        bool snat = mode != TranslateMode.FromInternet && _bindings.TryGetPublic(source, out newSource, out outboundId);
        bool dnat = (mode != TranslateMode.FromVpc || snat) && _bindings.TryGetPrivate(destination, out newDestination, out inboundId);
        if (!(snat | dnat) || (mode == TranslateMode.FromVpc && !snat))
        {
            return DropReason.NoBinding;
        }

        // An ICMP error quotes a packet that travelled the other way: its source is our destination and its
        // destination our source. Anything else is not about a flow through this binding.
        if (quotedOffset > 0)
        {
            Span<byte> quoted = packet.Slice(quotedOffset);
            if ((dnat && BinaryPrimitives.ReadUInt32BigEndian(quoted.Slice(Ipv4.SourceOffset)) != destination)
                || (snat && BinaryPrimitives.ReadUInt32BigEndian(quoted.Slice(Ipv4.DestinationOffset)) != source))
            {
                return DropReason.IcmpInnerMismatch;
            }
        }

        // ---- Bandwidth caps: charged by the IPv4 total length, outbound on the source's binding, inbound on the
        // destination's (a hairpin pays both), before any byte is written. ----
        if (policing is not null && !policing.Admit(snat ? outboundId : -1, dnat ? inboundId : -1, totalLength))
        {
            return DropReason.BandwidthExceeded;
        }

        // ---- Rewrite: nothing above wrote a byte, so a dropped frame leaves as it came. ----
        ushort ipChecksum = BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(Ipv4.ChecksumOffset));
        if (snat)
        {
            BinaryPrimitives.WriteUInt32BigEndian(packet.Slice(Ipv4.SourceOffset), newSource);
            ipChecksum = Checksum.Update32(ipChecksum, source, newSource);
        }
        if (dnat)
        {
            BinaryPrimitives.WriteUInt32BigEndian(packet.Slice(Ipv4.DestinationOffset), newDestination);
            ipChecksum = Checksum.Update32(ipChecksum, destination, newDestination);
        }
        BinaryPrimitives.WriteUInt16BigEndian(packet.Slice(Ipv4.ChecksumOffset), ipChecksum);

        if (hasTransportHeader)
        {
            var change = new AddressChange(snat, source, newSource, dnat, destination, newDestination);
            switch (protocol)
            {
                case Ipv4.ProtocolTcp or Ipv4.ProtocolUdp when partialChecksum:
                    UpdatePartialChecksum(packet, headerLength + (protocol == Ipv4.ProtocolTcp ? Tcp.ChecksumOffset : Udp.ChecksumOffset), change);
                    break;
                case Ipv4.ProtocolTcp:
                    UpdateTcpChecksum(packet, headerLength, change);
                    break;
                case Ipv4.ProtocolUdp:
                    UpdateUdpChecksum(packet, headerLength, change);
                    break;
                case Ipv4.ProtocolIcmp when quotedOffset > 0:
                    TranslateQuotedPacket(packet, headerLength, quotedOffset, change, updateIcmpChecksum: !partialChecksum);
                    break;
                default:
                    // ICMP queries have no pseudo-header; GRE, ESP, SCTP, ... carry no IPv4 addresses we rewrite.
                    break;
            }
        }
        bindings = new BindingIds(snat ? outboundId : -1, dnat ? inboundId : -1);
        return DropReason.None;
    }

    /// <summary>The address rewrite of one frame, as the checksum updates need it.</summary>
    private readonly struct AddressChange(bool snat, uint source, uint newSource, bool dnat, uint destination, uint newDestination)
    {
        public readonly bool Snat = snat;
        public readonly bool Dnat = dnat;
        public readonly uint Source = source;
        public readonly uint NewSource = newSource;
        public readonly uint Destination = destination;
        public readonly uint NewDestination = newDestination;

        /// <summary>Folds the address rewrite into a checksum whose pseudo-header covers both addresses.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ushort Apply(ushort checksum)
        {
            if (Snat)
            {
                checksum = Checksum.Update32(checksum, Source, NewSource);
            }
            if (Dnat)
            {
                checksum = Checksum.Update32(checksum, Destination, NewDestination);
            }
            return checksum;
        }

        /// <summary>Folds the address rewrite into a partial checksum, the pseudo-header sum (<see cref="Checksum.UpdatePartial32"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ushort ApplyPartial(ushort partial)
        {
            if (Snat)
            {
                partial = Checksum.UpdatePartial32(partial, Source, NewSource);
            }
            if (Dnat)
            {
                partial = Checksum.UpdatePartial32(partial, Destination, NewDestination);
            }
            return partial;
        }

        /// <summary>The same change seen from a quoted packet, which travelled the other way.</summary>
        public AddressChange Mirrored => new(Dnat, Destination, NewDestination, Snat, Source, NewSource);
    }

    /// <summary>TCP: the checksum covers the pseudo-header (RFC 9293 §3.1); updated when it was captured.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateTcpChecksum(Span<byte> packet, int tcpOffset, in AddressChange change)
    {
        int at = tcpOffset + Tcp.ChecksumOffset;
        if (at + 2 <= packet.Length)
        {
            var field = packet.Slice(at, 2);
            BinaryPrimitives.WriteUInt16BigEndian(field, change.Apply(BinaryPrimitives.ReadUInt16BigEndian(field)));
        }
    }

    /// <summary>
    /// A partial TCP/UDP checksum (the pseudo-header sum, to be finished later): the addresses it covers changed, the
    /// bytes from the transport header on will be summed when it is finished. No "0 means none" rule for UDP: a sum is not a checksum.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdatePartialChecksum(Span<byte> packet, int at, in AddressChange change)
    {
        if (at + 2 <= packet.Length)
        {
            var field = packet.Slice(at, 2);
            BinaryPrimitives.WriteUInt16BigEndian(field, change.ApplyPartial(BinaryPrimitives.ReadUInt16BigEndian(field)));
        }
    }

    /// <summary>UDP: as TCP, except 0 means "no checksum" and stays 0, and a computed 0 is sent as 0xFFFF (RFC 768).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateUdpChecksum(Span<byte> packet, int udpOffset, in AddressChange change)
    {
        int at = udpOffset + Udp.ChecksumOffset;
        if (at + 2 <= packet.Length)
        {
            var field = packet.Slice(at, 2);
            ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(field);
            if (checksum != 0)
            {
                checksum = change.Apply(checksum);
                BinaryPrimitives.WriteUInt16BigEndian(field, checksum == 0 ? (ushort)0xFFFF : checksum);
            }
        }
    }

    private const int QuotedMalformed = -2;
    private const int QuotedAbsent = -1;

    /// <summary>
    /// Validates the packet an ICMP error quotes: its IPv4 header plus 8 bytes must fit in the outer total length.
    /// Returns its offset, <see cref="QuotedAbsent"/> when the capture cut it off (the outer packet is still
    /// translated), or <see cref="QuotedMalformed"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int FindQuotedPacket(ReadOnlySpan<byte> packet, int icmpOffset, int totalLength)
    {
        int quoted = icmpOffset + Icmp.HeaderLength;
        if (quoted + Ipv4.MinHeaderLength + 8 > totalLength)
        {
            return QuotedMalformed;
        }
        if (quoted >= packet.Length)
        {
            return QuotedAbsent;
        }
        int versionIhl = packet[quoted];
        int headerLength = (versionIhl & 0x0F) << 2;
        if ((versionIhl >> 4) != 4 || headerLength < Ipv4.MinHeaderLength || quoted + headerLength + 8 > totalLength)
        {
            return QuotedMalformed;
        }
        return quoted + headerLength <= packet.Length ? quoted : QuotedAbsent;
    }

    /// <summary>
    /// The slow path for ICMP errors: rewrite the quoted packet's addresses, its IP header checksum, its
    /// TCP/UDP checksum when present, and fold every changed word into the ICMP checksum — unless that checksum is
    /// partial (<paramref name="updateIcmpChecksum"/> false): it will be computed over the final bytes, the quoted
    /// packet's finished checksums included, so it needs no update at all.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void TranslateQuotedPacket(Span<byte> packet, int icmpOffset, int quotedOffset, in AddressChange outer, bool updateIcmpChecksum = true)
    {
        Span<byte> icmpChecksumField = packet.Slice(icmpOffset + Icmp.ChecksumOffset, 2);
        ushort icmpChecksum = BinaryPrimitives.ReadUInt16BigEndian(icmpChecksumField);
        Span<byte> quoted = packet.Slice(quotedOffset);
        AddressChange change = outer.Mirrored;

        // Every field below sits at an even offset from the ICMP header (8 + multiples of 2), so the
        // word-wise RFC 1624 updates of the ICMP checksum line up with the words that changed.
        if (change.Snat)
        {
            BinaryPrimitives.WriteUInt32BigEndian(quoted.Slice(Ipv4.SourceOffset), change.NewSource);
        }
        if (change.Dnat)
        {
            BinaryPrimitives.WriteUInt32BigEndian(quoted.Slice(Ipv4.DestinationOffset), change.NewDestination);
        }
        icmpChecksum = change.Apply(icmpChecksum);

        Span<byte> quotedIpChecksumField = quoted.Slice(Ipv4.ChecksumOffset, 2);
        ushort oldIpChecksum = BinaryPrimitives.ReadUInt16BigEndian(quotedIpChecksumField);
        ushort newIpChecksum = change.Apply(oldIpChecksum);
        BinaryPrimitives.WriteUInt16BigEndian(quotedIpChecksumField, newIpChecksum);
        icmpChecksum = Checksum.Update16(icmpChecksum, oldIpChecksum, newIpChecksum);

        bool quotesTransportHeader = (BinaryPrimitives.ReadUInt16BigEndian(quoted.Slice(Ipv4.FlagsFragmentOffset)) & Ipv4.FragmentOffsetMask) == 0;
        if (quotesTransportHeader)
        {
            int headerLength = (quoted[Ipv4.VersionIhlOffset] & 0x0F) << 2;
            int checksumAt = -1;
            switch (quoted[Ipv4.ProtocolOffset])
            {
                case Ipv4.ProtocolTcp when headerLength + Tcp.ChecksumOffset + 2 <= quoted.Length:
                    checksumAt = headerLength + Tcp.ChecksumOffset;
                    break;
                case Ipv4.ProtocolUdp when headerLength + Udp.HeaderLength <= quoted.Length:
                    checksumAt = headerLength + Udp.ChecksumOffset;
                    break;
                default:
                    break;
            }
            if (checksumAt > 0)
            {
                Span<byte> field = quoted.Slice(checksumAt, 2);
                ushort oldChecksum = BinaryPrimitives.ReadUInt16BigEndian(field);
                bool isUdp = quoted[Ipv4.ProtocolOffset] == Ipv4.ProtocolUdp;
                if (!(isUdp && oldChecksum == 0))
                {
                    ushort newChecksum = change.Apply(oldChecksum);
                    if (isUdp && newChecksum == 0)
                    {
                        newChecksum = 0xFFFF;
                    }
                    BinaryPrimitives.WriteUInt16BigEndian(field, newChecksum);
                    icmpChecksum = Checksum.Update16(icmpChecksum, oldChecksum, newChecksum);
                }
            }
        }
        if (updateIcmpChecksum)
        {
            BinaryPrimitives.WriteUInt16BigEndian(icmpChecksumField, icmpChecksum);
        }
    }
}

/// <summary>One frame of a batch: its offset and captured length in the batch buffer, and its length on the wire.</summary>
public readonly record struct BatchFrame(int Offset, int Length, int WireLength);

/// <summary>
/// The bindings that translated a frame, by their dense ids (<see cref="BindingTable.Bind"/>): the source's binding for
/// SNAT (outbound), the destination's for DNAT (inbound), both for hairpin traffic, -1 where none applied. This is what
/// per-binding state beside the translator (counters, a policer) is keyed by.
/// </summary>
public readonly record struct BindingIds(int Outbound, int Inbound)
{
    /// <summary>No binding: a dropped frame.</summary>
    public static BindingIds None => new(-1, -1);
}
