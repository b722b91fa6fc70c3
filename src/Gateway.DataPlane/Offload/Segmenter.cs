using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Gateway.DataPlane.Translation;
using Gateway.Packets;

namespace Gateway.DataPlane.Offload;

/// <summary>The transport a GSO super-frame is cut by.</summary>
public enum GsoKind : byte
{
    /// <summary>TCP segmentation (TSO, virtio GSO_TCPV4): one TCP header per segment, sequence numbers advancing.</summary>
    Tcp = 1,
    /// <summary>UDP segmentation (USO, virtio GSO_UDP_L4): one UDP datagram per segment.</summary>
    Udp = 2,
}

/// <summary>
/// Where the parts of an IPv4 GSO super-frame are: headers (Ethernet, tags, IPv4, TCP/UDP) once, then a payload that
/// becomes <see cref="SegmentCount"/> segments of <see cref="SegmentSize"/> bytes (the last one shorter).
/// </summary>
public readonly struct GsoLayout
{
    /// <summary>Offset of the IPv4 header in the frame.</summary>
    public int IpOffset { get; init; }

    /// <summary>Offset of the TCP/UDP header.</summary>
    public int TransportOffset { get; init; }

    /// <summary>Bytes every segment repeats: up to the end of the TCP/UDP header (where the payload starts).</summary>
    public int HeaderLength { get; init; }

    /// <summary>Payload bytes of the super-frame (up to the IPv4 total length; Ethernet padding is not payload).</summary>
    public int PayloadLength { get; init; }

    /// <summary>Payload bytes per segment (the MSS for TCP; virtio gso_size).</summary>
    public int SegmentSize { get; init; }

    public GsoKind Kind { get; init; }

    /// <summary>Keep the IPv4 id of every segment (the kernel's SKB_GSO_TCP_FIXEDID); otherwise ids count up from the super-frame's.</summary>
    public bool FixedId { get; init; }

    /// <summary>Segments the super-frame becomes (at least 1: a super-frame that fits in one segment is sent as it is).</summary>
    public int SegmentCount => PayloadLength <= SegmentSize ? 1 : (PayloadLength + SegmentSize - 1) / SegmentSize;

    /// <summary>Payload bytes of segment <paramref name="index"/>.</summary>
    public int SegmentPayload(int index) => Math.Min(SegmentSize, PayloadLength - (index * SegmentSize));

    /// <summary>Frame bytes of segment <paramref name="index"/> (headers included).</summary>
    public int SegmentFrameLength(int index) => HeaderLength + SegmentPayload(index);
}

/// <summary>
/// Software segmentation of GSO super-frames, for a port that cannot take them whole (a libpcap port; any port
/// without offloads), and for anyone who must see a super-frame as the segments it becomes (a policer charging them).
/// </summary>
/// <remarks>
/// <para>Allocation-free: each segment is written into a buffer the caller provides, one segment per call, so a
/// caller can take any range of them. Every segment comes out whole: its own IPv4 total length, id and header
/// checksum, and a finished TCP/UDP checksum over the pseudo-header, header and payload — as the kernel's software
/// GSO does (net/ipv4/tcp_offload.c tcp_gso_segment, net/ipv4/udp_offload.c __udp_gso_segment, net/ipv4/af_inet.c
/// inet_gso_segment):</para>
/// <list type="bullet">
/// <item>TCP: sequence number advanced by the payload before it; FIN and PSH only on the last segment, CWR only on
/// the first (tcp_gso_segment clears CWR after the first and FIN/PSH on all but the last).</item>
/// <item>UDP: one UDP header per segment, its length that segment's; a computed checksum of 0 is sent as 0xFFFF.</item>
/// <item>IPv4 ids count up from the super-frame's, one per segment, unless <see cref="GsoLayout.FixedId"/>.</item>
/// </list>
/// <para>Whatever the super-frame's checksum field held (a partial sum, a finished checksum of the whole) is replaced:
/// segmentation changes the bytes every checksum covers, so the kernel recomputes too.</para>
/// </remarks>
public static class Segmenter
{
    /// <summary>
    /// Reads the layout of an IPv4 super-frame of <paramref name="kind"/> cut into <paramref name="segmentSize"/>-byte
    /// segments. <see cref="DropReason.NotIpv4"/> for a frame that is not IPv4; <see cref="DropReason.Malformed"/> when
    /// it does not match (another transport, a fragment, headers that do not fit, a zero segment size).
    /// </summary>
    public static DropReason TryParse(ReadOnlySpan<byte> frame, GsoKind kind, int segmentSize, out GsoLayout layout)
    {
        layout = default;
        int l3 = Translator.FindIpv4(frame, out DropReason reason);
        if (reason != DropReason.None)
        {
            return reason;
        }
        if (segmentSize <= 0 || l3 + Ipv4.MinHeaderLength > frame.Length)
        {
            return DropReason.Malformed;
        }
        ReadOnlySpan<byte> ip = frame.Slice(l3);
        int ipHeaderLength = (ip[Ipv4.VersionIhlOffset] & 0x0F) << 2;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(Ipv4.TotalLengthOffset));
        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(Ipv4.FlagsFragmentOffset));
        byte protocol = ip[Ipv4.ProtocolOffset];
        if ((ip[Ipv4.VersionIhlOffset] >> 4) != 4 || ipHeaderLength < Ipv4.MinHeaderLength || totalLength > ip.Length
            || (fragment & (Ipv4.FragmentOffsetMask | Ipv4.MoreFragmentsFlag)) != 0
            || protocol != (kind == GsoKind.Tcp ? Ipv4.ProtocolTcp : Ipv4.ProtocolUdp))
        {
            return DropReason.Malformed;
        }
        int transportHeaderLength = Udp.HeaderLength;
        if (kind == GsoKind.Tcp)
        {
            if (ipHeaderLength + Tcp.MinHeaderLength > totalLength)
            {
                return DropReason.Malformed;
            }
            transportHeaderLength = (ip[ipHeaderLength + TcpDataOffsetOffset] >> 4) << 2;
            if (transportHeaderLength < Tcp.MinHeaderLength)
            {
                return DropReason.Malformed;
            }
        }
        if (ipHeaderLength + transportHeaderLength > totalLength)
        {
            return DropReason.Malformed;
        }
        layout = new GsoLayout
        {
            IpOffset = l3,
            TransportOffset = l3 + ipHeaderLength,
            HeaderLength = l3 + ipHeaderLength + transportHeaderLength,
            PayloadLength = totalLength - ipHeaderLength - transportHeaderLength,
            SegmentSize = segmentSize,
            Kind = kind,
        };
        return DropReason.None;
    }

    private const int TcpSequenceOffset = 4;
    private const int TcpDataOffsetOffset = 12;
    private const int TcpFlagsOffset = 13;
    private const byte TcpFin = 0x01;
    private const byte TcpPsh = 0x08;
    private const byte TcpCwr = 0x80;
    private const int UdpLengthOffset = 4;

    /// <summary>
    /// Writes segment <paramref name="index"/> of <paramref name="superFrame"/> into <paramref name="destination"/>, whole,
    /// and returns its length (<see cref="GsoLayout.SegmentFrameLength"/>).
    /// </summary>
    public static int WriteSegment(ReadOnlySpan<byte> superFrame, in GsoLayout layout, int index, Span<byte> destination)
    {
        if ((uint)index >= (uint)layout.SegmentCount)
        {
            ThrowIndex(index, layout.SegmentCount);
        }
        int payload = layout.SegmentPayload(index);
        int length = layout.HeaderLength + payload;
        superFrame.Slice(0, layout.HeaderLength).CopyTo(destination);
        superFrame.Slice(layout.HeaderLength + (index * layout.SegmentSize), payload).CopyTo(destination.Slice(layout.HeaderLength));
        Span<byte> segment = destination.Slice(0, length);

        // IPv4: this segment's total length and id, then its header checksum over the final header.
        Span<byte> ip = segment.Slice(layout.IpOffset);
        int ipHeaderLength = layout.TransportOffset - layout.IpOffset;
        int transportLength = length - layout.TransportOffset;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.TotalLengthOffset), (ushort)(ipHeaderLength + transportLength));
        if (!layout.FixedId)
        {
            ushort id = BinaryPrimitives.ReadUInt16BigEndian(superFrame.Slice(layout.IpOffset + Ipv4.IdentificationOffset));
            BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.IdentificationOffset), (ushort)(id + index));
        }
        ip.Slice(Ipv4.ChecksumOffset, 2).Clear();
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.ChecksumOffset), Checksum.Compute(ip.Slice(0, ipHeaderLength)));

        Span<byte> transport = segment.Slice(layout.TransportOffset);
        int checksumAt;
        if (layout.Kind == GsoKind.Tcp)
        {
            uint sequence = BinaryPrimitives.ReadUInt32BigEndian(transport.Slice(TcpSequenceOffset));
            BinaryPrimitives.WriteUInt32BigEndian(transport.Slice(TcpSequenceOffset), unchecked(sequence + (uint)(index * layout.SegmentSize)));
            byte flags = transport[TcpFlagsOffset];
            if (index < layout.SegmentCount - 1)
            {
                flags &= unchecked((byte)~(TcpFin | TcpPsh));
            }
            if (index > 0)
            {
                flags &= unchecked((byte)~TcpCwr);
            }
            transport[TcpFlagsOffset] = flags;
            checksumAt = Tcp.ChecksumOffset;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(transport.Slice(UdpLengthOffset), (ushort)transportLength);
            checksumAt = Udp.ChecksumOffset;
        }
        WriteTransportChecksum(ip, transport, transportLength, checksumAt, udp: layout.Kind == GsoKind.Udp);
        return length;
    }

    /// <summary>
    /// Finishes a partial checksum in place (NEEDS_CSUM without GSO, for a port without offloads), as the kernel's
    /// skb_checksum_help: the field already holds the pseudo-header sum, so the checksum is the complement of the sum
    /// from <paramref name="checksumStart"/> to the end of the packet; a result of 0 is sent as 0xFFFF (CSUM_MANGLED_0).
    /// </summary>
    /// <param name="end">Where the packet ends (its IPv4 total length; Ethernet padding is not summed).</param>
    public static void FinishPartialChecksum(Span<byte> frame, int checksumStart, int checksumOffset, int end)
    {
        Span<byte> field = frame.Slice(checksumStart + checksumOffset, 2);
        ushort checksum = Checksum.Compute(frame.Slice(checksumStart, end - checksumStart));
        BinaryPrimitives.WriteUInt16BigEndian(field, checksum == 0 ? (ushort)0xFFFF : checksum);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteTransportChecksum(ReadOnlySpan<byte> ip, Span<byte> transport, int transportLength, int checksumAt, bool udp)
    {
        uint source = BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(Ipv4.SourceOffset));
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(ip.Slice(Ipv4.DestinationOffset));
        transport.Slice(checksumAt, 2).Clear();
        ushort pseudo = Checksum.PseudoHeaderSum(source, destination, udp ? Ipv4.ProtocolUdp : Ipv4.ProtocolTcp, transportLength);
        ushort checksum = Checksum.Compute(transport.Slice(0, transportLength), pseudo);
        BinaryPrimitives.WriteUInt16BigEndian(transport.Slice(checksumAt), udp && checksum == 0 ? (ushort)0xFFFF : checksum);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowIndex(int index, int count) =>
        throw new ArgumentOutOfRangeException(nameof(index), index, $"the super-frame has {count} segments.");
}
