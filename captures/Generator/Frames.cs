using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using PacketDotNet.Utils;

namespace Gateway.CaptureGenerator;

/// <summary>
/// Frame builders on PacketDotNet: every checksum in a built frame is computed by PacketDotNet from scratch,
/// so an expected output built with the translated addresses is an independent statement of what the
/// translator must produce.
/// </summary>
public static class Frames
{
    public static readonly PhysicalAddress GatewayMac = PhysicalAddress.Parse("02-00-5E-00-00-01");
    public static readonly PhysicalAddress PeerMac = PhysicalAddress.Parse("02-00-5E-00-00-02");

    // ---------------------------------------------------------------- IPv4 packets

    public static byte[] Udp(string src, string dst, ushort sourcePort, ushort destinationPort, byte[] payload, bool noChecksum = false, ushort id = 1)
    {
        var udp = new UdpPacket(sourcePort, destinationPort) { PayloadData = payload };
        var ip = NewIp(src, dst, id);
        ip.PayloadPacket = udp;
        udp.UpdateCalculatedValues();
        ip.UpdateCalculatedValues();
        if (noChecksum)
        {
            udp.Checksum = 0;
        }
        else
        {
            udp.UpdateUdpChecksum();
        }
        ip.UpdateIPChecksum();
        return Checked(ip.Bytes);
    }

    public static byte[] Tcp(string src, string dst, ushort sourcePort, ushort destinationPort, uint sequence, bool syn, bool ack, byte[] payload, ushort id = 1)
    {
        var tcp = new TcpPacket(sourcePort, destinationPort)
        {
            SequenceNumber = sequence,
            AcknowledgmentNumber = ack ? sequence ^ 0x5A5A5A5Au : 0,
            Synchronize = syn,
            Acknowledgment = ack,
            WindowSize = 64240,
            PayloadData = payload,
        };
        var ip = NewIp(src, dst, id);
        ip.PayloadPacket = tcp;
        ip.UpdateCalculatedValues();
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        return Checked(ip.Bytes);
    }

    /// <summary>ICMP echo request (type 8) or reply (type 0).</summary>
    public static byte[] Echo(string src, string dst, bool request, ushort identifier, ushort sequence, byte[] data, ushort id = 1)
    {
        byte[] icmpBytes = new byte[8 + data.Length];
        icmpBytes[0] = request ? (byte)8 : (byte)0;
        BinaryPrimitives.WriteUInt16BigEndian(icmpBytes.AsSpan(4), identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmpBytes.AsSpan(6), sequence);
        data.CopyTo(icmpBytes, 8);
        return WithIcmp(src, dst, icmpBytes, id);
    }

    /// <summary>An ICMP error (RFC 792) quoting <paramref name="quoted"/> (already cut to the quoted length).</summary>
    public static byte[] IcmpError(string src, string dst, byte type, byte code, byte[] quoted, ushort id = 1)
    {
        byte[] icmpBytes = new byte[8 + quoted.Length];
        icmpBytes[0] = type;
        icmpBytes[1] = code;
        quoted.CopyTo(icmpBytes, 8);
        return WithIcmp(src, dst, icmpBytes, id);
    }

    private static byte[] WithIcmp(string src, string dst, byte[] icmpBytes, ushort id)
    {
        var icmp = new IcmpV4Packet(new ByteArraySegment(icmpBytes));
        icmp.UpdateIcmpChecksum();
        var ip = NewIp(src, dst, id);
        ip.PayloadPacket = icmp;
        ip.UpdateCalculatedValues();
        ip.UpdateIPChecksum();
        return Checked(ip.Bytes);
    }

    private static IPv4Packet NewIp(string src, string dst, ushort id) =>
        new(IPAddress.Parse(src), IPAddress.Parse(dst)) { TimeToLive = 61, Id = id };

    /// <summary>
    /// One's-complement arithmetic has two zeros: a checksum recomputed from scratch and one updated
    /// incrementally (RFC 1624) can differ as 0x0000 vs 0xFFFF. Builders refuse such frames so that an
    /// expected frame is the one and only right answer; a scenario that hits this changes its payload.
    /// </summary>
    private static byte[] Checked(byte[] ip)
    {
        int ihl = (ip[0] & 0x0F) * 4;
        CheckWord(ip, 10, "IPv4 header");
        bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(6)) & 0x1FFF) == 0;
        if (firstFragment)
        {
            switch (ip[9])
            {
                case 6: CheckWord(ip, ihl + 16, "TCP"); break;
                case 17 when BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(ihl + 6)) != 0: CheckWord(ip, ihl + 6, "UDP"); break;
                case 1: CheckWord(ip, ihl + 2, "ICMP"); break;
                default: break;
            }
        }
        return ip;
    }

    private static void CheckWord(byte[] ip, int at, string what)
    {
        if (at + 2 <= ip.Length && BinaryPrimitives.ReadUInt16BigEndian(ip.AsSpan(at)) is 0x0000 or 0xFFFF)
        {
            throw new InvalidOperationException($"{what} checksum came out 0x0000/0xFFFF; change the scenario's payload or id.");
        }
    }

    // ---------------------------------------------------------------- IPv4 variations

    /// <summary>Recomputes the IPv4 header checksum with PacketDotNet after a header edit.</summary>
    public static byte[] FixIpChecksum(byte[] ip)
    {
        var packet = new IPv4Packet(new ByteArraySegment(ip));
        packet.UpdateIPChecksum();
        return packet.Bytes;
    }

    /// <summary>Inserts IPv4 options (padded to 4 bytes by the caller) after the fixed header.</summary>
    public static byte[] WithOptions(byte[] ip, byte[] options)
    {
        if (options.Length % 4 != 0)
        {
            throw new ArgumentException("options must be padded to a multiple of 4 bytes", nameof(options));
        }
        int ihl = (ip[0] & 0x0F) * 4;
        byte[] result = [.. ip.AsSpan(0, ihl), .. options, .. ip.AsSpan(ihl)];
        result[0] = (byte)(0x40 | ((ihl + options.Length) / 4));
        BinaryPrimitives.WriteUInt16BigEndian(result.AsSpan(2), (ushort)result.Length);
        return Checked(FixIpChecksum(result));
    }

    /// <summary>Splits an unfragmented IPv4 packet into two fragments at <paramref name="firstPayload"/> bytes of payload (RFC 791 §3.2).</summary>
    public static (byte[] First, byte[] Second) Fragment(byte[] ip, int firstPayload)
    {
        if (firstPayload % 8 != 0)
        {
            throw new ArgumentException("fragment payloads are multiples of 8 bytes", nameof(firstPayload));
        }
        int ihl = (ip[0] & 0x0F) * 4;
        byte[] first = [.. ip.AsSpan(0, ihl + firstPayload)];
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(2), (ushort)first.Length);
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(6), 0x2000); // MF, offset 0
        byte[] second = [.. ip.AsSpan(0, ihl), .. ip.AsSpan(ihl + firstPayload)];
        BinaryPrimitives.WriteUInt16BigEndian(second.AsSpan(2), (ushort)second.Length);
        BinaryPrimitives.WriteUInt16BigEndian(second.AsSpan(6), (ushort)(firstPayload / 8));
        return (FixIpChecksum(first), FixIpChecksum(second));
    }

    /// <summary>Adds <paramref name="delta"/> to the 16-bit checksum at <paramref name="at"/> in one's-complement arithmetic: a corrupt checksum that stays exactly as corrupt through an RFC 1624 update.</summary>
    public static byte[] CorruptChecksum(byte[] ip, int at, ushort delta)
    {
        byte[] copy = [.. ip];
        uint sum = (uint)BinaryPrimitives.ReadUInt16BigEndian(copy.AsSpan(at)) + delta;
        sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(at), (ushort)sum);
        return copy;
    }

    // ---------------------------------------------------------------- link layers

    /// <summary>An Ethernet II frame (PacketDotNet), padded to the 60-byte minimum like a NIC would, with optional VLAN tags inserted.</summary>
    public static byte[] Ethernet(byte[] ip, bool fromInternet = true, (ushort Tpid, ushort Tci)[]? tags = null, ushort etherType = 0x0800, bool pad = true)
    {
        var eth = new EthernetPacket(fromInternet ? PeerMac : GatewayMac, fromInternet ? GatewayMac : PeerMac, (EthernetType)etherType)
        {
            PayloadData = ip,
        };
        byte[] frame = eth.Bytes;
        if (tags is { Length: > 0 })
        {
            var tagged = new List<byte>(frame.AsSpan(0, 12).ToArray());
            foreach (var (tpid, tci) in tags)
            {
                tagged.Add((byte)(tpid >> 8));
                tagged.Add((byte)tpid);
                tagged.Add((byte)(tci >> 8));
                tagged.Add((byte)tci);
            }
            tagged.AddRange(frame.AsSpan(12).ToArray());
            frame = [.. tagged];
        }
        if (pad && frame.Length < 60)
        {
            Array.Resize(ref frame, 60); // trailing zero padding, which the translator must keep
        }
        return frame;
    }

    /// <summary>Linux cooked v2 pseudo-header (LINKTYPE_LINUX_SLL2) before a packet.</summary>
    public static byte[] Sll2(byte[] packet, ushort protocol = 0x0800, bool outgoing = false)
    {
        byte[] header = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(header, protocol);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), 2); // interface index
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(8), 1); // ARPHRD_ETHER
        header[10] = outgoing ? (byte)4 : (byte)0;                  // PACKET_OUTGOING / PACKET_HOST
        header[11] = 6;
        (outgoing ? GatewayMac : PeerMac).GetAddressBytes().CopyTo(header, 12);
        return [.. header, .. packet];
    }

    /// <summary>Linux cooked v1 pseudo-header (LINKTYPE_LINUX_SLL) before a packet.</summary>
    public static byte[] Sll(byte[] packet, ushort protocol = 0x0800, bool outgoing = false)
    {
        byte[] header = new byte[16];
        BinaryPrimitives.WriteUInt16BigEndian(header, outgoing ? (ushort)4 : (ushort)0);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), 1);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), 6);
        (outgoing ? GatewayMac : PeerMac).GetAddressBytes().CopyTo(header, 6);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), protocol);
        return [.. header, .. packet];
    }

    /// <summary>An ARP request (PacketDotNet), for not-ipv4.</summary>
    public static byte[] ArpRequest(string sender, string target)
    {
        var arp = new ArpPacket(ArpOperation.Request, PhysicalAddress.Parse("00-00-00-00-00-00"), IPAddress.Parse(target), PeerMac, IPAddress.Parse(sender));
        return arp.Bytes;
    }

    /// <summary>An IPv6 UDP packet (PacketDotNet), for not-ipv4.</summary>
    public static byte[] Ipv6Udp()
    {
        var udp = new UdpPacket(5353, 5353) { PayloadData = [1, 2, 3, 4] };
        var ip = new IPv6Packet(IPAddress.Parse("2001:db8::1"), IPAddress.Parse("2001:db8::2")) { PayloadPacket = udp, HopLimit = 64 };
        ip.UpdateCalculatedValues();
        udp.UpdateUdpChecksum();
        return ip.Bytes;
    }
}
