using System.Buffers.Binary;

namespace Gateway.Fuzz.Tests;

/// <summary>
/// Valid frames the fuzzer starts from, assembled byte by byte here (not by the code under test),
/// with checksums computed by <see cref="OnesComplement"/>, an independent RFC 1071 implementation.
/// </summary>
internal static class SeedFrames
{
    public const uint PublicA = 0xC633640A;  // 198.51.100.10
    public const uint PrivateA = 0x0A000005; // 10.0.0.5
    public const uint PublicB = 0xC633640B;  // 198.51.100.11
    public const uint PrivateB = 0x0A000006; // 10.0.0.6
    public const uint Internet = 0xCB007107; // 203.0.113.7

    public static IReadOnlyList<byte[]> All { get; } = Build();

    private static List<byte[]> Build()
    {
        byte[] tcpPayload = "GET / HTTP/1.1\r\n"u8.ToArray();
        byte[] udpPayload = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        var frames = new List<byte[]>
        {
            Ethernet(Ip(6, Internet, PublicA, Tcp(Internet, PublicA, 40000, 80, tcpPayload))),
            Ethernet(Ip(17, PrivateA, Internet, Udp(PrivateA, Internet, 5353, 53, udpPayload))),
            Ethernet(Ip(17, PrivateA, Internet, UdpNoChecksum(5353, 53, udpPayload))),
            Ethernet(Ip(6, PrivateA, PublicB, Tcp(PrivateA, PublicB, 40001, 22, tcpPayload))),
            Ethernet(Ip(1, Internet, PublicA, IcmpEcho(8))),
            Ethernet(Ip(1, PrivateB, Internet, IcmpEcho(0))),
            // Inbound ICMP error about a UDP packet the instance sent from its public address.
            Ethernet(Ip(1, Internet, PublicA, IcmpError(3, 3, Ip(17, PublicA, Internet, Udp(PublicA, Internet, 5353, 53, udpPayload))))),
            // Outbound ICMP error from the instance about a TCP packet it received.
            Ethernet(Ip(1, PrivateA, Internet, IcmpError(11, 0, Ip(6, Internet, PrivateA, Tcp(Internet, PrivateA, 40000, 80, tcpPayload))))),
            // Hairpinned ICMP error.
            Ethernet(Ip(1, PrivateA, PublicB, IcmpError(3, 1, Ip(17, PublicB, PrivateA, Udp(PublicB, PrivateA, 9, 9, udpPayload))))),
            // A non-first fragment and a first fragment.
            Ethernet(Ip(17, Internet, PublicA, udpPayload, fragment: 0x0010)),
            Ethernet(Ip(6, Internet, PublicA, Tcp(Internet, PublicA, 1, 2, tcpPayload), fragment: 0x2000)),
            // GRE: only the IP header changes.
            Ethernet(Ip(47, PrivateB, Internet, [0, 0, 0x08, 0x00, 0x45, 0, 0, 20])),
            // IP options (record route, 8 bytes).
            Ethernet(Ip(6, Internet, PublicB, Tcp(Internet, PublicB, 3, 4, tcpPayload), options: [7, 7, 4, 0, 0, 0, 0, 1])),
            // 802.1Q and QinQ.
            Ethernet(Ip(17, PrivateB, Internet, Udp(PrivateB, Internet, 1000, 2000, udpPayload)), tags: [0x8100]),
            Ethernet(Ip(6, Internet, PublicB, Tcp(Internet, PublicB, 5, 6, tcpPayload)), tags: [0x88A8, 0x8100]),
            // ARP: not IPv4.
            EthernetRaw(0x0806, new byte[28]),
        };
        return frames;
    }

    private static byte[] EthernetRaw(ushort type, byte[] payload, ushort[]? tags = null)
    {
        tags ??= [];
        var frame = new byte[14 + (4 * tags.Length) + payload.Length];
        byte[] dst = [0x02, 0, 0, 0, 0, 1], src = [0x02, 0, 0, 0, 0, 2];
        dst.CopyTo(frame, 0);
        src.CopyTo(frame, 6);
        int at = 12;
        foreach (var tag in tags)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(at), tag);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(at + 2), 100);
            at += 4;
        }
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(at), type);
        payload.CopyTo(frame, at + 2);
        return frame;
    }

    private static byte[] Ethernet(byte[] ip, ushort[]? tags = null) => EthernetRaw(0x0800, ip, tags);

    public static byte[] Ip(byte protocol, uint src, uint dst, byte[] payload, ushort fragment = 0, byte[]? options = null)
    {
        options ??= [];
        int headerLength = 20 + options.Length;
        var ip = new byte[headerLength + payload.Length];
        ip[0] = (byte)(0x40 | (headerLength / 4));
        ip[1] = 0x28; // DSCP AF11
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(2), (ushort)ip.Length);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(4), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(6), fragment);
        ip[8] = 64;
        ip[9] = protocol;
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(12), src);
        BinaryPrimitives.WriteUInt32BigEndian(ip.AsSpan(16), dst);
        options.CopyTo(ip, 20);
        BinaryPrimitives.WriteUInt16BigEndian(ip.AsSpan(10), OnesComplement.Checksum(ip.AsSpan(0, headerLength)));
        payload.CopyTo(ip, headerLength);
        return ip;
    }

    private static byte[] Tcp(uint src, uint dst, ushort sport, ushort dport, byte[] payload)
    {
        var tcp = new byte[20 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(tcp.AsSpan(4), 1000);
        tcp[12] = 0x50;
        tcp[13] = 0x18;
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(14), 65535);
        payload.CopyTo(tcp, 20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp.AsSpan(16), OnesComplement.TransportChecksum(src, dst, 6, tcp));
        return tcp;
    }

    private static byte[] Udp(uint src, uint dst, ushort sport, ushort dport, byte[] payload)
    {
        var udp = UdpNoChecksum(sport, dport, payload);
        ushort checksum = OnesComplement.TransportChecksum(src, dst, 17, udp);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(6), checksum == 0 ? (ushort)0xFFFF : checksum);
        return udp;
    }

    private static byte[] UdpNoChecksum(ushort sport, ushort dport, byte[] payload)
    {
        var udp = new byte[8 + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(udp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(udp.AsSpan(4), (ushort)udp.Length);
        payload.CopyTo(udp, 8);
        return udp;
    }

    private static byte[] IcmpEcho(byte type)
    {
        var icmp = new byte[16];
        icmp[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(4), 77);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), 1);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), OnesComplement.Checksum(icmp));
        return icmp;
    }

    private static byte[] IcmpError(byte type, byte code, byte[] quoted)
    {
        var icmp = new byte[8 + quoted.Length];
        icmp[0] = type;
        icmp[1] = code;
        quoted.CopyTo(icmp, 8);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), OnesComplement.Checksum(icmp));
        return icmp;
    }
}

/// <summary>RFC 1071, written plainly and independently of Gateway.Packets.Checksum.</summary>
internal static class OnesComplement
{
    public static ushort Sum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        for (int i = 0; i < data.Length; i += 2)
        {
            sum += (uint)(data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0u);
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)sum;
    }

    public static ushort Checksum(ReadOnlySpan<byte> data) => (ushort)~Sum(data);

    public static ushort TransportChecksum(uint src, uint dst, byte protocol, ReadOnlySpan<byte> segment)
    {
        Span<byte> pseudo = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32BigEndian(pseudo, src);
        BinaryPrimitives.WriteUInt32BigEndian(pseudo.Slice(4), dst);
        pseudo[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo.Slice(10), (ushort)segment.Length);
        return (ushort)~Sum(segment, Sum(pseudo));
    }
}
