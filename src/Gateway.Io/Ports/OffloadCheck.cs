using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Gateway.DataPlane.Translation;
using Gateway.Packets;

namespace Gateway.Io.Ports;

/// <summary>
/// Checks a received frame's <see cref="VirtioNetHeader"/> against the frame before anything acts on it: a header whose
/// fields contradict each other or the frame is a <see cref="DropReason.Malformed"/> frame, counted like any other.
/// </summary>
/// <remarks>
/// <para>The rules are the kernel's own for headers it is handed (include/linux/virtio_net.h __virtio_net_hdr_to_skb,
/// drivers/net/tun_vnet.h tun_vnet_hdr_get), plus what the translator needs to rewrite the frame correctly:</para>
/// <list type="bullet">
/// <item>hdr_len (a hint) within the frame; flags only NEEDS_CSUM or DATA_VALID, not both.</item>
/// <item>NEEDS_CSUM: csum_start + csum_offset + 2 within the frame, csum_start past the Ethernet header. On an
/// unfragmented IPv4 TCP, UDP or ICMP packet the range must start at its transport header and the checksum be that
/// protocol's field: then the translator updates it as a partial sum. Elsewhere (another protocol) it must not cover
/// the IPv4 header, which the translator rewrites.</item>
/// <item>GSO: a type the gateway segments or passes on (TCPV4, UDP_L4; TCPV6 only on a frame that is not IPv4, which
/// the translator drops as not-ipv4), the ECN bit with TCP only, gso_size not 0, and the packet of that protocol,
/// unfragmented. USO needs NEEDS_CSUM at the UDP checksum, TSO with NEEDS_CSUM the TCP checksum (as the kernel asks).</item>
/// </list>
/// </remarks>
internal static class OffloadCheck
{
    /// <summary>
    /// <see cref="DropReason.None"/> when the header may be acted on (or the frame is not IPv4, which the translator
    /// judges), else <see cref="DropReason.Malformed"/>; <paramref name="partialChecksum"/> then says the
    /// frame's TCP/UDP/ICMP checksum is partial (for <see cref="Translator.TranslateEthernet"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static DropReason Validate(ReadOnlySpan<byte> frame, in VirtioNetHeader header, out bool partialChecksum)
    {
        partialChecksum = false;
        if (header.IsPlain && (header.Flags & ~VirtioNetHeader.FlagDataValid) == 0)
        {
            return header.HeaderLength <= frame.Length ? DropReason.None : DropReason.Malformed;
        }
        return ValidateOffload(frame, header, out partialChecksum);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DropReason ValidateOffload(ReadOnlySpan<byte> frame, in VirtioNetHeader header, out bool partialChecksum)
    {
        partialChecksum = false;
        const byte KnownFlags = VirtioNetHeader.FlagNeedsChecksum | VirtioNetHeader.FlagDataValid;
        if ((header.Flags & ~KnownFlags) != 0 || header.Flags == KnownFlags || header.HeaderLength > frame.Length)
        {
            return DropReason.Malformed;
        }
        int start = header.ChecksumStart, offset = header.ChecksumOffset;
        if (header.NeedsChecksum && (start < Ethernet.HeaderLength || start + offset + 2 > frame.Length))
        {
            return DropReason.Malformed;
        }
        byte kind = header.GsoKind;
        if (header.IsGso)
        {
            bool tcp = kind is VirtioNetHeader.GsoTcpV4 or VirtioNetHeader.GsoTcpV6;
            if (header.GsoSize == 0 || !(tcp || kind == VirtioNetHeader.GsoUdpL4)
                || ((header.GsoType & VirtioNetHeader.GsoEcn) != 0 && !tcp)
                || (kind == VirtioNetHeader.GsoUdpL4 && (!header.NeedsChecksum || offset != Udp.ChecksumOffset))
                || (tcp && header.NeedsChecksum && offset != Tcp.ChecksumOffset))
            {
                return DropReason.Malformed;
            }
        }

        int l3 = Translator.FindIpv4(frame, out DropReason reason);
        if (reason != DropReason.None)
        {
            // Not IPv4: the translator drops it (not-ipv4, or malformed) and counts it, unless the header claims IPv4 TSO.
            return kind == VirtioNetHeader.GsoTcpV4 ? DropReason.Malformed : DropReason.None;
        }
        if (l3 + Ipv4.MinHeaderLength > frame.Length)
        {
            return DropReason.Malformed;
        }
        ReadOnlySpan<byte> ip = frame.Slice(l3);
        int transport = l3 + ((ip[Ipv4.VersionIhlOffset] & 0x0F) << 2);
        byte protocol = ip[Ipv4.ProtocolOffset];
        bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(Ipv4.FlagsFragmentOffset)) & (Ipv4.FragmentOffsetMask | Ipv4.MoreFragmentsFlag)) != 0;
        if (header.IsGso && (kind == VirtioNetHeader.GsoTcpV6 || fragment
            || protocol != (kind == VirtioNetHeader.GsoUdpL4 ? Ipv4.ProtocolUdp : Ipv4.ProtocolTcp)))
        {
            return DropReason.Malformed; // a GSO type that does not match the packet
        }
        if (!header.NeedsChecksum)
        {
            return DropReason.None;
        }
        int fieldOffset = protocol switch
        {
            Ipv4.ProtocolTcp => Tcp.ChecksumOffset,
            Ipv4.ProtocolUdp => Udp.ChecksumOffset,
            Ipv4.ProtocolIcmp => Icmp.ChecksumOffset,
            _ => -1,
        };
        if (fieldOffset < 0)
        {
            // GRE, ESP, ...: whatever the range covers lies beyond the IPv4 header, which is all the translator touches.
            return start >= transport ? DropReason.None : DropReason.Malformed;
        }
        if (fragment || start != transport || offset != fieldOffset)
        {
            return DropReason.Malformed;
        }
        partialChecksum = true;
        return DropReason.None;
    }
}
