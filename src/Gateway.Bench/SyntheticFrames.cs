using System.Buffers.Binary;
using Gateway.Packets;

namespace Gateway.Bench;

/// <summary>The kinds of frame the throughput benchmarks translate.</summary>
public enum TrafficKind : byte
{
    Tcp,
    Udp,
    IcmpEcho,
    /// <summary>ICMP destination unreachable (port unreachable) quoting a UDP packet.</summary>
    IcmpError,
    /// <summary>A non-first UDP fragment: only the IPv4 header is translated.</summary>
    Fragment,
}

/// <summary>
/// Builds well-formed Ethernet/IPv4 frames with valid checksums (computed from scratch with
/// <see cref="Checksum.Compute"/>) for the benchmarks and the <c>gateway bench</c> harness.
/// </summary>
/// <remarks>
/// Benchmarks need frames without a test library; the translator tests build theirs with PacketDotNet
/// so that they do not share code with what they check. Frames have no FCS: a "64-byte frame" on the
/// wire is 60 bytes here (the NIC adds the 4-byte FCS).
/// </remarks>
public static class SyntheticFrames
{
    /// <summary>Ethernet + IPv4 (20) + TCP (20): the smallest TCP frame before padding.</summary>
    public const int MinimumLength = Ethernet.HeaderLength + Ipv4.MinHeaderLength + Tcp.MinHeaderLength;

    /// <summary>Ethernet + IPv4 + ICMP header + the quoted IPv4 header, UDP header and 4 bytes of payload.</summary>
    public const int MinimumIcmpErrorLength = Ethernet.HeaderLength + Ipv4.MinHeaderLength + Icmp.HeaderLength + QuotedLength;

    private const int QuotedLength = Ipv4.MinHeaderLength + Udp.HeaderLength + 4;

    /// <summary>
    /// Writes a frame of <paramref name="kind"/> into <paramref name="frame"/> (its length is the frame length,
    /// at least <see cref="MinimumLength"/>) and returns that length. The payload is a deterministic pattern.
    /// </summary>
    public static int Write(Span<byte> frame, TrafficKind kind, uint source, uint destination, ushort sourcePort = 40000, ushort destinationPort = 443)
    {
        int minimum = kind == TrafficKind.IcmpError ? MinimumIcmpErrorLength : MinimumLength;
        if (frame.Length < minimum)
        {
            throw new ArgumentException($"a {kind} frame needs at least {minimum} bytes; got {frame.Length}.", nameof(frame));
        }
        frame.Clear();
        // Locally administered unicast MACs.
        ReadOnlySpan<byte> mac = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
        mac.CopyTo(frame);
        BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(Ethernet.TypeOffset), Ethernet.TypeIpv4);

        Span<byte> ip = frame.Slice(Ethernet.HeaderLength);
        int totalLength = ip.Length;
        for (int i = Ipv4.MinHeaderLength; i < ip.Length; i++)
        {
            ip[i] = (byte)(i * 7);
        }

        byte protocol = kind switch
        {
            TrafficKind.Tcp => Ipv4.ProtocolTcp,
            TrafficKind.Udp or TrafficKind.Fragment => Ipv4.ProtocolUdp,
            _ => Ipv4.ProtocolIcmp,
        };
        ushort fragment = kind == TrafficKind.Fragment ? (ushort)(185 & Ipv4.FragmentOffsetMask) : (ushort)0x4000; // DF, or offset 1480
        WriteIpv4Header(ip, totalLength, protocol, fragment, source, destination);

        Span<byte> l4 = ip.Slice(Ipv4.MinHeaderLength);
        switch (kind)
        {
            case TrafficKind.Tcp:
                BinaryPrimitives.WriteUInt16BigEndian(l4, sourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(2), destinationPort);
                BinaryPrimitives.WriteUInt32BigEndian(l4.Slice(4), 0x01020304);
                BinaryPrimitives.WriteUInt32BigEndian(l4.Slice(8), 0x05060708);
                l4[12] = 5 << 4; // data offset 5 words
                l4[13] = 0x18;   // PSH, ACK
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(14), 64240);
                l4[16] = l4[17] = l4[18] = l4[19] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(Tcp.ChecksumOffset), Checksum.Compute(l4, PseudoHeaderSum(source, destination, Ipv4.ProtocolTcp, l4.Length)));
                break;
            case TrafficKind.Udp:
                WriteUdp(l4, source, destination, sourcePort, destinationPort);
                break;
            case TrafficKind.Fragment:
                // A later fragment carries payload only; its bytes are whatever the pattern left.
                break;
            case TrafficKind.IcmpEcho:
                l4[Icmp.TypeOffset] = Icmp.EchoRequest;
                l4[1] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(4), sourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(6), 1);
                l4[2] = l4[3] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(Icmp.ChecksumOffset), Checksum.Compute(l4));
                break;
            case TrafficKind.IcmpError:
                // Port unreachable about a UDP datagram that went the other way (destination → source).
                l4[Icmp.TypeOffset] = Icmp.DestinationUnreachable;
                l4[1] = 3;
                l4[2] = l4[3] = l4[4] = l4[5] = l4[6] = l4[7] = 0;
                Span<byte> quoted = l4.Slice(Icmp.HeaderLength);
                WriteIpv4Header(quoted, QuotedLength, Ipv4.ProtocolUdp, 0x4000, destination, source);
                WriteUdp(quoted.Slice(Ipv4.MinHeaderLength, QuotedLength - Ipv4.MinHeaderLength), destination, source, destinationPort, sourcePort);
                BinaryPrimitives.WriteUInt16BigEndian(l4.Slice(Icmp.ChecksumOffset), Checksum.Compute(l4));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown traffic kind");
        }
        return frame.Length;
    }

    private static void WriteIpv4Header(Span<byte> ip, int totalLength, byte protocol, ushort flagsFragment, uint source, uint destination)
    {
        ip[Ipv4.VersionIhlOffset] = 0x45;
        ip[Ipv4.TosOffset] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.TotalLengthOffset), (ushort)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.IdentificationOffset), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.FlagsFragmentOffset), flagsFragment);
        ip[Ipv4.TtlOffset] = 64;
        ip[Ipv4.ProtocolOffset] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.ChecksumOffset), 0);
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(Ipv4.SourceOffset), source);
        BinaryPrimitives.WriteUInt32BigEndian(ip.Slice(Ipv4.DestinationOffset), destination);
        BinaryPrimitives.WriteUInt16BigEndian(ip.Slice(Ipv4.ChecksumOffset), Checksum.Compute(ip.Slice(0, Ipv4.MinHeaderLength)));
    }

    private static void WriteUdp(Span<byte> udp, uint source, uint destination, ushort sourcePort, ushort destinationPort)
    {
        BinaryPrimitives.WriteUInt16BigEndian(udp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(4), (ushort)udp.Length);
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(Udp.ChecksumOffset), 0);
        ushort checksum = Checksum.Compute(udp, PseudoHeaderSum(source, destination, Ipv4.ProtocolUdp, udp.Length));
        BinaryPrimitives.WriteUInt16BigEndian(udp.Slice(Udp.ChecksumOffset), checksum == 0 ? (ushort)0xFFFF : checksum);
    }

    /// <summary>The RFC 768 / RFC 9293 pseudo-header: source, destination, zero, protocol, length.</summary>
    private static uint PseudoHeaderSum(uint source, uint destination, byte protocol, int length) =>
        (source >> 16) + (source & 0xFFFF) + (destination >> 16) + (destination & 0xFFFF) + protocol + (uint)length;
}
