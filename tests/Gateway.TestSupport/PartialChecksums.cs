using System.Buffers.Binary;

namespace Gateway.TestSupport;

/// <summary>
/// Partial checksums (virtio NEEDS_CSUM, the kernel's CHECKSUM_PARTIAL) computed here, independently of the code under
/// test: the field holds the folded pseudo-header sum, and finishing means summing from the transport header to the
/// end of the packet and complementing (what the kernel's skb_checksum_help does).
/// </summary>
public static class PartialChecksums
{
    /// <summary>Where the transport header of the frame's IPv4 packet starts (csum_start).</summary>
    public static int TransportOffset(byte[] frame)
    {
        int l3 = Frames.Ipv4Offset(frame);
        return l3 + ((frame[l3] & 0x0F) * 4);
    }

    /// <summary>The checksum field's offset from the transport header (csum_offset): TCP 16, UDP 6, ICMP 2.</summary>
    public static int FieldOffset(byte[] frame) => frame[Frames.Ipv4Offset(frame) + 9] switch
    {
        Frames.ProtocolTcp => 16,
        Frames.ProtocolUdp => 6,
        Frames.ProtocolIcmp => 2,
        var p => throw new ArgumentException($"protocol {p} has no transport checksum here"),
    };

    /// <summary>
    /// Turns a whole frame (valid checksums) into what a sender with checksum offload hands over: the TCP/UDP field
    /// holds the pseudo-header sum (not complemented), ICMP's holds 0 (no pseudo-header).
    /// </summary>
    public static byte[] MakePartial(byte[] frame)
    {
        var copy = (byte[])frame.Clone();
        int l3 = Frames.Ipv4Offset(copy);
        int l4 = TransportOffset(copy);
        int at = l4 + FieldOffset(copy);
        ushort value = copy[l3 + 9] == Frames.ProtocolIcmp ? (ushort)0 : PseudoHeaderSum(copy);
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(at), value);
        return copy;
    }

    /// <summary>The folded pseudo-header sum of the frame's IPv4 packet (source, destination, protocol, transport length).</summary>
    public static ushort PseudoHeaderSum(byte[] frame)
    {
        int l3 = Frames.Ipv4Offset(frame);
        int ihl = (frame[l3] & 0x0F) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 2));
        ulong sum = 0;
        for (int i = 12; i < 20; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + i));
        }
        sum += frame[l3 + 9];
        sum += (ulong)(total - ihl);
        return Fold(sum);
    }

    /// <summary>Finishes a partial checksum in place: the complement of the sum from csum_start to the end of the IPv4 packet (0 sent as 0xFFFF).</summary>
    public static void Finish(byte[] frame, int checksumStart, int checksumOffset)
    {
        int l3 = Frames.Ipv4Offset(frame);
        int end = l3 + BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 2));
        ulong sum = 0;
        for (int i = checksumStart; i < end; i += 2)
        {
            sum += i + 1 < end ? BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(i)) : (ulong)frame[i] << 8;
        }
        ushort checksum = (ushort)~Fold(sum);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(checksumStart + checksumOffset), checksum == 0 ? (ushort)0xFFFF : checksum);
    }

    /// <summary>Finishes the frame's transport checksum, partial at its transport header.</summary>
    public static byte[] Finished(byte[] frame)
    {
        var copy = (byte[])frame.Clone();
        Finish(copy, TransportOffset(copy), FieldOffset(copy));
        return copy;
    }

    public static ushort Fold(ulong sum)
    {
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)sum;
    }
}
