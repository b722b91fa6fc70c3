using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Gateway.DataPlane.Bindings;
using Gateway.DataPlane.Counters;
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
    /// <param name="partialChecksum">
    /// The transport checksum (TCP, UDP, or ICMP's own) is partial, to be finished later over the bytes from the
    /// transport header on (virtio NEEDS_CSUM with csum_start at the transport header, as the port checked): a TCP/UDP
    /// field holds the pseudo-header sum and is updated as a sum (<see cref="Checksum.UpdatePartial32"/>); ICMP's is
    /// left alone, since every byte it will cover is final only after translation.
    /// </param>
    /// <returns><see cref="DropReason.None"/> to forward, otherwise why the frame is dropped.</returns>
    public DropReason TranslateEthernet(Span<byte> frame, int wireLength, TrafficCounters counters, TranslateMode mode = TranslateMode.Infer, bool partialChecksum = false)
    {
        counters.Received(wireLength);
        int l3 = FindIpv4(frame, out DropReason reason);
        if (reason == DropReason.None)
        {
            reason = TranslateIpv4Core(frame.Slice(l3), wireLength - l3, mode, counters, wireLength, partialChecksum);
        }
        return Count(counters, reason, wireLength);
    }

    /// <summary>
    /// Translates a batch of Ethernet frames held in one buffer: exactly as <see cref="TranslateEthernet"/> frame by
    /// frame, after first asking the CPU to fetch every frame's binding-table slots (<see cref="BindingTable.Prefetch"/>),
    /// so that with a table larger than the cache the batch's memory reads overlap instead of queueing one by one.
    /// </summary>
    /// <param name="buffer">The frames, rewritten in place.</param>
    /// <param name="frames">Where each frame sits in <paramref name="buffer"/> and its length on the wire.</param>
    /// <param name="verdicts">Receives each frame's verdict, in order; at least as long as <paramref name="frames"/>.</param>
    public void TranslateEthernetBatch(Span<byte> buffer, ReadOnlySpan<BatchFrame> frames, Span<DropReason> verdicts, TrafficCounters counters, TranslateMode mode = TranslateMode.Infer)
    {
        if (verdicts.Length < frames.Length)
        {
            ThrowVerdictsTooShort(frames.Length, verdicts.Length);
        }
        if (_bindings.Count < PrefetchMinBindings)
        {
            // Cache-resident table: the extra passes cost more than the misses they hide (measured, see below).
            for (int i = 0; i < frames.Length; i++)
            {
                var f = frames[i];
                verdicts[i] = TranslateEthernet(buffer.Slice(f.Offset, f.Length), f.WireLength, counters, mode);
            }
            return;
        }

        // Stage 1: start the table reads of the whole batch. Only a hint: a frame that is not IPv4 or is too short
        // is simply skipped here and judged in stage 3.
        foreach (var f in frames)
        {
            if (TryReadAddresses(buffer.Slice(f.Offset, f.Length), out uint source, out uint destination))
            {
                _bindings.Prefetch(source, destination);
            }
        }
        // Stage 2, PrefetchLag frames ahead of stage 3: the slots have arrived; look the bindings up (for their ids
        // only) and start fetching their counters, the other line a translated frame writes. Stage 3: the
        // translation itself, exactly as TranslateEthernet, which looks up again (the table may have changed).
        for (int i = 0; i < frames.Length + PrefetchLag; i++)
        {
            if (i < frames.Length)
            {
                var f = frames[i];
                if (TryReadAddresses(buffer.Slice(f.Offset, f.Length), out uint source, out uint destination))
                {
                    if (_bindings.TryGetPublic(source, out _, out int outboundId))
                    {
                        counters.PrefetchBinding(outboundId);
                    }
                    if (_bindings.TryGetPrivate(destination, out _, out int inboundId))
                    {
                        counters.PrefetchBinding(inboundId);
                    }
                }
            }
            int t = i - PrefetchLag;
            if (t >= 0)
            {
                var f = frames[t];
                verdicts[t] = TranslateEthernet(buffer.Slice(f.Offset, f.Length), f.WireLength, counters, mode);
            }
        }
    }

    /// <summary>
    /// Below this many bindings the table and counters stay in L2/L3 and batch prefetching does not pay: on the
    /// reference machine (perf/README.md) 1,000 bindings ran 67 ns/frame plain and 89 with prefetch, 65,536 ran
    /// 368 plain and 155 with prefetch ('gateway bench' CPU ns per frame).
    /// </summary>
    private const int PrefetchMinBindings = 8192;

    /// <summary>Frames between fetching a binding's counters and writing them: enough to cover a memory access.</summary>
    private const int PrefetchLag = 4;

    /// <summary>The IPv4 addresses of an Ethernet frame, for prefetching only (no validation beyond reachability).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryReadAddresses(ReadOnlySpan<byte> frame, out uint source, out uint destination)
    {
        int l3 = FindIpv4(frame, out DropReason reason);
        if (reason == DropReason.None && frame.Length - l3 >= Ipv4.MinHeaderLength)
        {
            source = BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(l3 + Ipv4.SourceOffset));
            destination = BinaryPrimitives.ReadUInt32BigEndian(frame.Slice(l3 + Ipv4.DestinationOffset));
            return true;
        }
        source = destination = 0;
        return false;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowVerdictsTooShort(int frames, int verdicts) =>
        throw new ArgumentException($"a batch of {frames} frames needs as many verdicts; the span holds {verdicts}.", nameof(verdicts));

    /// <summary>Translates a bare IPv4 packet (raw-IP and Linux cooked captures) and counts the outcome.</summary>
    public DropReason TranslateIpv4(Span<byte> packet, int wireLength, TrafficCounters counters, TranslateMode mode = TranslateMode.Infer)
    {
        counters.Received(wireLength);
        DropReason reason = TranslateIpv4Core(packet, wireLength, mode, counters, wireLength);
        return Count(counters, reason, wireLength);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DropReason Count(TrafficCounters counters, DropReason reason, int wireLength)
    {
        if (reason == DropReason.None)
        {
            counters.Forwarded(wireLength);
        }
        else
        {
            counters.Dropped(reason, wireLength);
        }
        return reason;
    }

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

    private DropReason TranslateIpv4Core(Span<byte> ip, int wireLength, TranslateMode mode, TrafficCounters counters, int frameWireLength, bool partialChecksum = false)
    {
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

        // ---- Rewrite: nothing above wrote a byte, so a dropped frame leaves as it came. ----
        ushort ipChecksum = BinaryPrimitives.ReadUInt16BigEndian(packet.Slice(Ipv4.ChecksumOffset));
        if (snat)
        {
            BinaryPrimitives.WriteUInt32BigEndian(packet.Slice(Ipv4.SourceOffset), newSource);
            ipChecksum = Checksum.Update32(ipChecksum, source, newSource);
            counters.BindingOutbound(outboundId, frameWireLength);
        }
        if (dnat)
        {
            BinaryPrimitives.WriteUInt32BigEndian(packet.Slice(Ipv4.DestinationOffset), newDestination);
            ipChecksum = Checksum.Update32(ipChecksum, destination, newDestination);
            counters.BindingInbound(inboundId, frameWireLength);
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
