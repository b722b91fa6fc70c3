using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using PacketDotNet.Utils;

namespace Gateway.TestSupport;

/// <summary>
/// Test frames built with PacketDotNet, never with the code under test: every IPv4, TCP, UDP and ICMP
/// checksum here is PacketDotNet's. Each builder returns a whole Ethernet II frame.
/// </summary>
/// <remarks>
/// PacketDotNet builds untagged Ethernet headers and 20-byte IPv4 headers only, so two things are done
/// by hand: VLAN tags (802.1Q and 802.1ad/QinQ TPID+TCI, 4 bytes each) are inserted between the MAC
/// addresses and the EtherType, and IPv4 options are inserted after the 20-byte header, after which
/// PacketDotNet recomputes the header checksum (options are outside every pseudo-header, so transport
/// checksums stay valid). SCTP's CRC32c is computed here too (RFC 4960 App. B): PacketDotNet has no SCTP.
/// </remarks>
public static class Frames
{
    public const byte ProtocolIcmp = 1;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;
    public const byte ProtocolGre = 47;
    public const byte ProtocolEsp = 50;
    public const byte ProtocolSctp = 132;

    /// <summary>A TCP segment (ACK|PSH, fixed sequence numbers) with a valid checksum.</summary>
    public static byte[] Tcp(string source, string destination, ushort sourcePort = 40000, ushort destinationPort = 443,
        byte[]? payload = null, FrameOptions? options = null)
    {
        var tcp = new TcpPacket(sourcePort, destinationPort)
        {
            SequenceNumber = 0x01020304,
            AcknowledgmentNumber = 0x0A0B0C0D,
            Acknowledgment = true,
            Push = payload is { Length: > 0 },
            WindowSize = 64240,
            PayloadData = payload ?? [],
        };
        return Build(source, destination, ProtocolType.Tcp, tcp, options, ip => ((TcpPacket)ip.PayloadPacket).UpdateTcpChecksum());
    }

    /// <summary>A UDP datagram with a valid checksum, or with checksum 0 ("none", RFC 768) when <paramref name="noChecksum"/>.</summary>
    public static byte[] Udp(string source, string destination, ushort sourcePort = 40000, ushort destinationPort = 53,
        byte[]? payload = null, FrameOptions? options = null, bool noChecksum = false)
    {
        var udp = new UdpPacket(sourcePort, destinationPort) { PayloadData = payload ?? [] };
        return Build(source, destination, ProtocolType.Udp, udp, options, ip =>
        {
            var u = (UdpPacket)ip.PayloadPacket;
            u.UpdateCalculatedValues();
            if (noChecksum)
            {
                u.Checksum = 0;
            }
            else
            {
                u.UpdateUdpChecksum();
                if (u.Checksum == 0)
                {
                    // PacketDotNet writes a computed 0 as is; RFC 768 sends it as all ones (0 means "no checksum").
                    u.Checksum = 0xFFFF;
                }
            }
        });
    }

    /// <summary>An ICMP echo request (or reply) with a valid ICMP checksum.</summary>
    public static byte[] IcmpEcho(string source, string destination, ushort id = 0x0077, ushort sequence = 1,
        byte[]? payload = null, bool reply = false, FrameOptions? options = null)
    {
        payload ??= "abcdefghijklmnop"u8.ToArray();
        var bytes = new byte[8 + payload.Length];
        bytes[0] = reply ? (byte)0 : (byte)8;
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6), sequence);
        payload.CopyTo(bytes, 8);
        return Icmp(source, destination, bytes, options);
    }

    /// <summary>
    /// An ICMP error (type 3, 4, 5, 11 or 12) quoting the IPv4 packet of the frame <paramref name="about"/>
    /// (built by these builders): its first <paramref name="quoteLength"/> bytes, all of it by default.
    /// </summary>
    /// <param name="restOfHeader">ICMP bytes 4..7: unused, next-hop MTU (3/4), gateway (5) or pointer (12).</param>
    public static byte[] IcmpError(string source, string destination, byte type, byte code, byte[] about,
        int? quoteLength = null, uint restOfHeader = 0, FrameOptions? options = null)
    {
        byte[] quoted = Ipv4Packet(about);
        int length = quoteLength ?? quoted.Length;
        if (length > quoted.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(quoteLength), $"the quoted packet has only {quoted.Length} bytes");
        }
        var bytes = new byte[8 + length];
        bytes[0] = type;
        bytes[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), restOfHeader);
        quoted.AsSpan(0, length).CopyTo(bytes.AsSpan(8));
        return Icmp(source, destination, bytes, options);
    }

    /// <summary>Any ICMP message from its raw bytes (type, code, checksum, rest, data); PacketDotNet writes the checksum.</summary>
    public static byte[] Icmp(string source, string destination, byte[] icmpMessage, FrameOptions? options = null)
    {
        var icmp = new IcmpV4Packet(new ByteArraySegment((byte[])icmpMessage.Clone()));
        icmp.Checksum = 0;
        icmp.UpdateIcmpChecksum();
        return Build(source, destination, ProtocolType.Icmp, icmp, options, _ => { });
    }

    /// <summary>An IPv4 packet of any protocol with a raw payload (GRE, ESP, SCTP, or a non-first fragment).</summary>
    public static byte[] Ip(string source, string destination, byte protocol, byte[] payload, FrameOptions? options = null) =>
        Build(source, destination, (ProtocolType)protocol, rawPayload: payload, options: options);

    /// <summary>GRE (RFC 2784, no checksum/key/sequence) carrying <paramref name="inner"/> as IPv4.</summary>
    public static byte[] Gre(string source, string destination, byte[]? inner = null, FrameOptions? options = null)
    {
        inner ??= Ipv4Packet(Udp("172.16.0.1", "172.16.0.2"));
        var payload = new byte[4 + inner.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), 0x0800);
        inner.CopyTo(payload, 4);
        return Ip(source, destination, ProtocolGre, payload, options);
    }

    /// <summary>ESP (RFC 4303): SPI, sequence number, opaque ciphertext.</summary>
    public static byte[] Esp(string source, string destination, uint spi = 0x1000, uint sequence = 1, FrameOptions? options = null)
    {
        var payload = new byte[8 + 24];
        BinaryPrimitives.WriteUInt32BigEndian(payload, spi);
        BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(4), sequence);
        for (int i = 8; i < payload.Length; i++)
        {
            payload[i] = (byte)(i * 37);
        }
        return Ip(source, destination, ProtocolEsp, payload, options);
    }

    /// <summary>SCTP (RFC 4960) common header plus one DATA-like chunk, with a valid CRC32c (no pseudo-header, App. B).</summary>
    public static byte[] Sctp(string source, string destination, ushort sourcePort = 5000, ushort destinationPort = 5001,
        uint verificationTag = 0xCAFEF00D, FrameOptions? options = null)
    {
        var payload = new byte[12 + 20];
        BinaryPrimitives.WriteUInt16BigEndian(payload, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(payload.AsSpan(4), verificationTag);
        payload[12] = 0; // DATA
        payload[13] = 3;
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(14), 20);
        for (int i = 16; i < payload.Length; i++)
        {
            payload[i] = (byte)i;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(8), Crc32C(payload));
        return Ip(source, destination, ProtocolSctp, payload, options);
    }

    /// <summary>An ARP request (not IPv4: the translator must refuse it).</summary>
    public static byte[] Arp(string senderIp = "10.0.0.1", string targetIp = "10.0.0.2", FrameOptions? options = null)
    {
        options ??= FrameOptions.Default;
        var arp = new ArpPacket(ArpOperation.Request, PhysicalAddress.Parse("00-00-00-00-00-00"), IPAddress.Parse(targetIp),
            PhysicalAddress.Parse(options.SourceMac), IPAddress.Parse(senderIp));
        return Frame(options, EthernetType.Arp, arp.Bytes);
    }

    /// <summary>An IPv6 UDP datagram (not IPv4).</summary>
    public static byte[] Ipv6Udp(string source = "2001:db8::1", string destination = "2001:db8::2", FrameOptions? options = null)
    {
        options ??= FrameOptions.Default;
        var ip = new IPv6Packet(IPAddress.Parse(source), IPAddress.Parse(destination));
        var udp = new UdpPacket(1000, 2000) { PayloadData = [1, 2, 3, 4] };
        ip.PayloadPacket = udp;
        ip.UpdateCalculatedValues();
        udp.UpdateCalculatedValues();
        udp.UpdateUdpChecksum();
        return Frame(options, EthernetType.IPv6, ip.Bytes);
    }

    /// <summary>A frame of any EtherType with the given payload.</summary>
    public static byte[] OtherEtherType(ushort etherType, byte[] payload, FrameOptions? options = null) =>
        Frame(options ?? FrameOptions.Default, (EthernetType)etherType, payload);

    // ----- Fragmentation (RFC 791 §3.2), so transport checksums can be checked on the reassembled datagram. -----

    /// <summary>
    /// Splits the unfragmented IPv4 packet in <paramref name="frame"/> into fragments carrying at most
    /// <paramref name="maxFragmentPayload"/> bytes each (rounded down to a multiple of 8). The transport
    /// checksum stays the whole datagram's, as a real sender's does. Options are copied into every fragment.
    /// </summary>
    public static IReadOnlyList<byte[]> Fragment(byte[] frame, int maxFragmentPayload)
    {
        int l3 = Ipv4Offset(frame);
        int headerLength = (frame[l3] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 2));
        int step = maxFragmentPayload / 8 * 8;
        if (step <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxFragmentPayload), "a fragment carries at least 8 bytes");
        }
        var payload = frame.AsSpan(l3 + headerLength, totalLength - headerLength);
        var fragments = new List<byte[]>();
        for (int offset = 0; offset < payload.Length; offset += step)
        {
            int length = Math.Min(step, payload.Length - offset);
            bool more = offset + length < payload.Length;
            var fragment = new byte[l3 + headerLength + length];
            frame.AsSpan(0, l3 + headerLength).CopyTo(fragment);
            payload.Slice(offset, length).CopyTo(fragment.AsSpan(l3 + headerLength));
            BinaryPrimitives.WriteUInt16BigEndian(fragment.AsSpan(l3 + 2), (ushort)(headerLength + length));
            ushort flags = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 6)) & 0x4000);
            BinaryPrimitives.WriteUInt16BigEndian(fragment.AsSpan(l3 + 6), (ushort)(flags | (more ? 0x2000 : 0) | (offset / 8)));
            fragments.Add(FixIpv4Checksum(fragment));
        }
        return fragments;
    }

    /// <summary>Puts fragments (any order) back into one unfragmented frame, IPv4 checksum by PacketDotNet.</summary>
    public static byte[] Reassemble(IEnumerable<byte[]> fragments)
    {
        var parts = fragments
            .Select(f => (Frame: f, L3: Ipv4Offset(f)))
            .Select(p => (p.Frame, p.L3, Offset: (BinaryPrimitives.ReadUInt16BigEndian(p.Frame.AsSpan(p.L3 + 6)) & 0x1FFF) * 8))
            .OrderBy(p => p.Offset)
            .ToList();
        var first = parts[0];
        int headerLength = (first.Frame[first.L3] & 0x0F) * 4;
        var payload = new List<byte>();
        foreach (var (f, l3, offset) in parts)
        {
            if (offset != payload.Count)
            {
                throw new ArgumentException($"fragment at offset {offset} does not follow {payload.Count} bytes");
            }
            int ihl = (f[l3] & 0x0F) * 4;
            int total = BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(l3 + 2));
            payload.AddRange(f.AsSpan(l3 + ihl, total - ihl).ToArray());
        }
        var whole = new byte[first.L3 + headerLength + payload.Count];
        first.Frame.AsSpan(0, first.L3 + headerLength).CopyTo(whole);
        payload.ToArray().CopyTo(whole, first.L3 + headerLength);
        BinaryPrimitives.WriteUInt16BigEndian(whole.AsSpan(first.L3 + 2), (ushort)(headerLength + payload.Count));
        BinaryPrimitives.WriteUInt16BigEndian(whole.AsSpan(first.L3 + 6),
            (ushort)(BinaryPrimitives.ReadUInt16BigEndian(whole.AsSpan(first.L3 + 6)) & 0x4000));
        return FixIpv4Checksum(whole);
    }

    // ----- Reading and editing frames (byte offsets only; no translation logic). -----

    /// <summary>Offset of the IPv4 header: after the 14-byte Ethernet header and every 4-byte VLAN tag.</summary>
    public static int Ipv4Offset(ReadOnlySpan<byte> frame)
    {
        int typeOffset = 12;
        while (BinaryPrimitives.ReadUInt16BigEndian(frame.Slice(typeOffset)) is 0x8100 or 0x88A8 or 0x9100)
        {
            typeOffset += 4;
        }
        return typeOffset + 2;
    }

    /// <summary>The IPv4 packet of a frame: from its header to its total length (no Ethernet padding).</summary>
    public static byte[] Ipv4Packet(byte[] frame)
    {
        int l3 = Ipv4Offset(frame);
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(l3 + 2));
        return frame.AsSpan(l3, totalLength).ToArray();
    }

    /// <summary>A copy of <paramref name="frame"/> with its IPv4 header edited through PacketDotNet, checksum recomputed unless told otherwise.</summary>
    public static byte[] EditIpv4(byte[] frame, Action<IPv4Packet> edit, bool fixChecksum = true)
    {
        ArgumentNullException.ThrowIfNull(edit);
        var copy = (byte[])frame.Clone();
        int l3 = Ipv4Offset(copy);
        var ip = new IPv4Packet(new ByteArraySegment(copy, l3, copy.Length - l3));
        edit(ip);
        return fixChecksum ? FixIpv4Checksum(copy) : copy;
    }

    /// <summary>A copy with the byte at <paramref name="offset"/> of the IPv4 header (or beyond) set, checksum recomputed unless told otherwise.</summary>
    public static byte[] WithIpv4Byte(byte[] frame, int offset, byte value, bool fixChecksum = true)
    {
        var copy = (byte[])frame.Clone();
        copy[Ipv4Offset(copy) + offset] = value;
        return fixChecksum ? FixIpv4Checksum(copy) : copy;
    }

    /// <summary>
    /// Recomputes the IPv4 header checksum in place with PacketDotNet's one's-complement routine over the header
    /// alone (not through <see cref="IPv4Packet"/>, which refuses headers a malformed-frame test needs, e.g. a total length below 20).
    /// </summary>
    public static byte[] FixIpv4Checksum(byte[] frame)
    {
        int l3 = Ipv4Offset(frame);
        int headerLength = Math.Min(Math.Max((frame[l3] & 0x0F) * 4, 20), frame.Length - l3);
        frame[l3 + 10] = frame[l3 + 11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(l3 + 10), (ushort)ChecksumUtils.OnesComplementSum(frame, l3, headerLength));
        return frame;
    }

    // ----- Assembly. -----

    private static byte[] Build(string source, string destination, ProtocolType protocol, Packet? transport = null,
        FrameOptions? options = null, Action<IPv4Packet>? updateTransportChecksum = null, byte[]? rawPayload = null)
    {
        options ??= FrameOptions.Default;
        var ip = new IPv4Packet(IPAddress.Parse(source), IPAddress.Parse(destination))
        {
            TimeToLive = options.Ttl,
            Id = options.Id,
            TypeOfService = options.Tos,
        };
        if (transport is not null)
        {
            ip.PayloadPacket = transport;
        }
        else
        {
            ip.PayloadData = rawPayload ?? [];
        }
        ip.Protocol = protocol;
        ip.UpdateCalculatedValues();
        updateTransportChecksum?.Invoke(ip);
        byte[] bytes = ip.Bytes;

        // Flags and fragment offset written as RFC 791 lays them out (PacketDotNet's setters use their own units).
        ushort flagsOffset = (ushort)((options.DontFragment ? 0x4000 : 0) | (options.MoreFragments ? 0x2000 : 0) | (options.FragmentOffset / 8));
        if (options.FragmentOffset % 8 != 0)
        {
            throw new ArgumentException("fragment offsets are multiples of 8 bytes", nameof(options));
        }
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6), flagsOffset);

        if (options.IpOptions.Length > 0)
        {
            if (options.IpOptions.Length % 4 != 0 || options.IpOptions.Length > 40)
            {
                throw new ArgumentException("IPv4 options are a multiple of 4 bytes, at most 40", nameof(options));
            }
            var withOptions = new byte[bytes.Length + options.IpOptions.Length];
            bytes.AsSpan(0, 20).CopyTo(withOptions);
            options.IpOptions.CopyTo(withOptions, 20);
            bytes.AsSpan(20).CopyTo(withOptions.AsSpan(20 + options.IpOptions.Length));
            withOptions[0] = (byte)(0x40 | ((20 + options.IpOptions.Length) / 4));
            BinaryPrimitives.WriteUInt16BigEndian(withOptions.AsSpan(2), (ushort)withOptions.Length);
            bytes = withOptions;
        }

        var header = bytes.AsSpan(0, (bytes[0] & 0x0F) * 4).ToArray();
        var reparsed = new IPv4Packet(new ByteArraySegment(header));
        reparsed.UpdateIPChecksum();
        header.AsSpan(10, 2).CopyTo(bytes.AsSpan(10));
        return Frame(options, EthernetType.IPv4, bytes);
    }

    private static byte[] Frame(FrameOptions options, EthernetType etherType, byte[] payload)
    {
        var ethernet = new EthernetPacket(PhysicalAddress.Parse(options.SourceMac), PhysicalAddress.Parse(options.DestinationMac), etherType);
        byte[] header = ethernet.Bytes; // 14 bytes: destination, source, EtherType
        var frame = new byte[header.Length + (4 * options.Vlans.Count) + payload.Length + options.Padding];
        header.AsSpan(0, 12).CopyTo(frame);
        int at = 12;
        foreach (var tag in options.Vlans)
        {
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(at), tag.Tpid);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(at + 2), tag.Tci);
            at += 4;
        }
        header.AsSpan(12, 2).CopyTo(frame.AsSpan(at));
        payload.CopyTo(frame, at + 2);
        frame.AsSpan(at + 2 + payload.Length).Fill(0xA5);
        return frame;
    }

    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        // Castagnoli polynomial, reflected (RFC 4960 App. B / RFC 3309).
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
            }
        }
        return ~crc;
    }
}
