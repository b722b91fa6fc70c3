using System.Buffers.Binary;
using PacketDotNet;
using PacketDotNet.Utils;

namespace Gateway.TestSupport;

/// <summary>What the oracle checked in one frame and what it found wrong.</summary>
/// <param name="Verified">Checksums PacketDotNet verified as valid: "ip", "tcp", "udp", "udp-none" (checksum 0 = none), "icmp", "inner-ip", "inner-tcp", "inner-udp", "inner-icmp".</param>
/// <param name="Problems">Every checksum that did not verify, or why the frame could not be read.</param>
public sealed record OracleReport(IReadOnlyList<string> Verified, IReadOnlyList<string> Problems)
{
    public bool Valid => Problems.Count == 0;
}

/// <summary>Thrown by <see cref="Oracle.AssertChecksumsValid"/>; the message lists each problem and the frame in hex.</summary>
public sealed class OracleException(string message) : Exception(message)
{
    public OracleException()
        : this("checksum oracle failed")
    {
    }

    public OracleException(string message, Exception inner)
        : this(message + ": " + inner.Message)
    {
    }
}

/// <summary>
/// The independent oracle: re-parses a whole frame with PacketDotNet and verifies every checksum it can
/// (IPv4 header, TCP/UDP with their pseudo-header, ICMP, and in an ICMP error the quoted IPv4 header and,
/// when the quote holds the whole quoted packet, its TCP/UDP/ICMP checksum).
/// </summary>
/// <remarks>
/// Transport checksums are verified only on unfragmented packets: a fragment's checksum covers a datagram
/// it does not hold (use <see cref="Frames.Reassemble"/> first). A UDP checksum of 0 means "none" (RFC 768)
/// and is reported as "udp-none", not verified. The frame must be whole (not cut by a snap length).
/// </remarks>
public static class Oracle
{
    /// <summary>Throws <see cref="OracleException"/> unless every checksum PacketDotNet can check is valid.</summary>
    public static OracleReport AssertChecksumsValid(byte[] frame)
    {
        var report = Check(frame);
        if (!report.Valid)
        {
            throw new OracleException($"{string.Join("; ", report.Problems)} (verified: {string.Join(", ", report.Verified)}) in frame {Convert.ToHexString(frame)}");
        }
        return report;
    }

    /// <summary>Verifies what it can and says what it verified; never throws for a bad frame.</summary>
    public static OracleReport Check(byte[] frame)
    {
        var verified = new List<string>();
        var problems = new List<string>();
        try
        {
            IPv4Packet ip = Ipv4(frame);
            int l3 = Frames.Ipv4Offset(frame);
            if (l3 + ip.TotalLength > frame.Length)
            {
                problems.Add($"frame holds {frame.Length - l3} of the IPv4 packet's {ip.TotalLength} bytes: the oracle needs whole frames");
                return new OracleReport(verified, problems);
            }
            Record(ip.ValidIPChecksum, "ip", verified, problems);
            bool fragment = ip.FragmentOffset != 0 || (ip.FragmentFlags & 0x1) != 0 || IsFragment(frame.AsSpan(l3));
            if (!fragment)
            {
                if (Payload(ip) is null && ip.Protocol is ProtocolType.Tcp or ProtocolType.Udp or ProtocolType.Icmp)
                {
                    problems.Add($"PacketDotNet could not parse the {ip.Protocol} header");
                }
                CheckTransport(ip, "", verified, problems);
            }
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException or OracleException)
        {
            problems.Add($"PacketDotNet could not parse the frame: {e.Message}");
        }
        return new OracleReport(verified, problems);
    }

    /// <summary>The frame's IPv4 packet as PacketDotNet parses it (802.1Q and 802.1ad tags are walked by PacketDotNet itself).</summary>
    public static IPv4Packet Ipv4(byte[] frame)
    {
        IPv4Packet? ip = null;
        try
        {
            ip = Packet.ParsePacket(LinkLayers.Ethernet, frame).Extract<IPv4Packet>();
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException or NotSupportedException)
        {
            // PacketDotNet parses some payloads it knows (OSPF, ...) and gives up on unusual ones:
            // the IPv4 header alone is still checkable.
            int l3 = Frames.Ipv4Offset(frame);
            return new IPv4Packet(new ByteArraySegment(frame.AsSpan(l3, Math.Min((frame[l3] & 0x0F) * 4, frame.Length - l3)).ToArray()));
        }
        if (ip is null)
        {
            // PacketDotNet walks 0x8100 and 0x88A8 tags; the pre-standard 0x9100 tag it leaves alone.
            int l3 = Frames.Ipv4Offset(frame);
            ip = new IPv4Packet(new ByteArraySegment(frame, l3, frame.Length - l3));
        }
        return ip;
    }

    private static void CheckTransport(IPv4Packet ip, string prefix, List<string> verified, List<string> problems)
    {
        switch (Payload(ip))
        {
            case TcpPacket tcp:
                Record(tcp.ValidTcpChecksum, prefix + "tcp", verified, problems);
                break;
            case UdpPacket udp when udp.Checksum == 0:
                verified.Add(prefix + "udp-none");
                break;
            case UdpPacket udp:
                Record(udp.ValidUdpChecksum, prefix + "udp", verified, problems);
                break;
            case IcmpV4Packet icmp:
                Record(icmp.ValidIcmpChecksum, prefix + "icmp", verified, problems);
                if (prefix.Length == 0 && icmp.Bytes.Length >= 8 && icmp.Bytes[0] is 3 or 4 or 5 or 11 or 12)
                {
                    CheckQuoted(icmp.Bytes.AsSpan(8).ToArray(), verified, problems);
                }
                break;
            default:
                break;
        }
    }

    private static void CheckQuoted(byte[] quoted, List<string> verified, List<string> problems)
    {
        if (quoted.Length < 20 || (quoted[0] >> 4) != 4)
        {
            problems.Add("the ICMP error quotes no IPv4 header");
            return;
        }
        int headerLength = (quoted[0] & 0x0F) * 4;
        if (headerLength < 20 || headerLength > quoted.Length)
        {
            problems.Add("the quoted IPv4 header is not whole");
            return;
        }
        // The header alone: PacketDotNet refuses a packet shorter than its total length, and quotes usually are.
        Record(new IPv4Packet(new ByteArraySegment(quoted.AsSpan(0, headerLength).ToArray())).ValidIPChecksum, "inner-ip", verified, problems);
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(quoted.AsSpan(2));
        if (totalLength <= quoted.Length && totalLength >= headerLength && !IsFragment(quoted))
        {
            CheckTransport(new IPv4Packet(new ByteArraySegment(quoted, 0, totalLength)), "inner-", verified, problems);
        }
    }

    /// <summary>PacketDotNet parses payloads lazily and throws on ones it half-knows (e.g. OSPF with a bad version): those count as unparsed.</summary>
    private static Packet? Payload(IPv4Packet ip)
    {
        try
        {
            return ip.PayloadPacket;
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException or NotSupportedException)
        {
            return null;
        }
    }

    private static bool IsFragment(ReadOnlySpan<byte> ip) => (BinaryPrimitives.ReadUInt16BigEndian(ip.Slice(6)) & 0x3FFF) != 0;

    private static void Record(bool valid, string name, List<string> verified, List<string> problems)
    {
        if (valid)
        {
            verified.Add(name);
        }
        else
        {
            problems.Add($"{name} checksum does not verify");
        }
    }
}
