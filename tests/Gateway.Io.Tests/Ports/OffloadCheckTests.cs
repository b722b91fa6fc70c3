using Gateway.DataPlane.Translation;
using Gateway.TestSupport;

namespace Gateway.Io.Ports.Tests;

/// <summary>
/// A virtio_net_hdr whose fields contradict each other or the frame is refused (malformed) before anything acts on it;
/// a consistent one says whether the transport checksum is partial.
/// </summary>
public class OffloadCheckTests
{
    private const string A = "10.0.0.10";
    private const string B = "203.0.113.5";
    private static readonly byte[] s_tcp = Frames.Tcp(A, B, payload: new byte[3000]);
    private static readonly byte[] s_udp = Frames.Udp(A, B, payload: new byte[3000]);
    private static readonly byte[] s_icmp = Frames.IcmpEcho(A, B);
    private static readonly int s_l4 = PartialChecksums.TransportOffset(s_tcp); // 34 for an untagged 20-byte header

    private static VirtioNetHeader Csum(int start, int offset, byte gso = 0, int gsoSize = 0, int hdrLen = 0) => new()
    {
        Flags = VirtioNetHeader.FlagNeedsChecksum,
        GsoType = gso,
        GsoSize = (ushort)gsoSize,
        ChecksumStart = (ushort)start,
        ChecksumOffset = (ushort)offset,
        HeaderLength = (ushort)hdrLen,
    };

    private static readonly Dictionary<string, (byte[] Frame, VirtioNetHeader Header)> s_malformed = new()
    {
        { "gso_size 0 with a GSO type", (s_tcp, Csum(s_l4, 16, VirtioNetHeader.GsoTcpV4, 0)) },
        { "csum_start past the frame", (s_tcp, Csum(s_tcp.Length + 10, 16)) },
        { "csum_start + csum_offset past the frame", (s_tcp, Csum(s_l4, s_tcp.Length)) },
        { "csum_start inside the Ethernet header", (s_tcp, Csum(4, 16)) },
        { "hdr_len past the frame", (s_tcp, Csum(s_l4, 16, hdrLen: s_tcp.Length + 1)) },
        { "hdr_len past the frame, no offload", (s_tcp, new VirtioNetHeader { HeaderLength = (ushort)(s_tcp.Length + 1) }) },
        { "csum_start not at the TCP header", (s_tcp, Csum(s_l4 + 4, 12)) },
        { "csum_offset not TCP's checksum", (s_tcp, Csum(s_l4, 6)) },
        { "csum_start at the IPv4 header", (s_udp, Csum(14, 10)) },
        { "TSO type on a UDP packet", (s_udp, Csum(s_l4, 6, VirtioNetHeader.GsoTcpV4, 1400)) },
        { "USO type on a TCP packet", (s_tcp, Csum(s_l4, 16, VirtioNetHeader.GsoUdpL4, 1400)) },
        { "USO without NEEDS_CSUM", (s_udp, new VirtioNetHeader { GsoType = VirtioNetHeader.GsoUdpL4, GsoSize = 1400 }) },
        { "IPv6 TSO on an IPv4 packet", (s_tcp, Csum(s_l4, 16, VirtioNetHeader.GsoTcpV6, 1400)) },
        { "UFO (GSO_UDP), which no kernel hands out any more", (s_udp, Csum(s_l4, 6, VirtioNetHeader.GsoUdp, 1400)) },
        { "an unknown GSO type", (s_tcp, Csum(s_l4, 16, 9, 1400)) },
        { "ECN with UDP", (s_udp, Csum(s_l4, 6, VirtioNetHeader.GsoUdpL4 | VirtioNetHeader.GsoEcn, 1400)) },
        { "NEEDS_CSUM and DATA_VALID at once", (s_tcp, new VirtioNetHeader { Flags = 3, ChecksumStart = (ushort)s_l4, ChecksumOffset = 16 }) },
        { "an unknown flag", (s_tcp, new VirtioNetHeader { Flags = 4 }) },
        { "TSO on a fragment", (Frames.Fragment(s_tcp, 1480)[0], Csum(s_l4, 16, VirtioNetHeader.GsoTcpV4, 1000)) },
        { "NEEDS_CSUM on a non-first fragment", (Frames.Fragment(s_udp, 1480)[1], Csum(s_l4, 6)) },
        { "IPv4 TSO on an ARP frame", (Frames.Arp(), Csum(14, 16, VirtioNetHeader.GsoTcpV4, 1000)) },
    };

    public static TheoryData<string> Malformed => [.. s_malformed.Keys];

    [Theory]
    [MemberData(nameof(Malformed))]
    public void InconsistentHeaders_AreMalformed(string what)
    {
        var (frame, header) = s_malformed[what];
        Assert.Equal(DropReason.Malformed, OffloadCheck.Validate(frame, header, out _));
    }

    private static readonly Dictionary<string, (byte[] Frame, VirtioNetHeader Header, bool Partial)> s_accepted = new()
    {
        { "no offload", (s_tcp, VirtioNetHeader.None, false) },
        { "DATA_VALID alone", (s_tcp, new VirtioNetHeader { Flags = VirtioNetHeader.FlagDataValid }, false) },
        { "TCP partial", (s_tcp, Csum(s_l4, 16), true) },
        { "UDP partial", (s_udp, Csum(s_l4, 6), true) },
        { "ICMP partial", (s_icmp, Csum(s_l4, 2), true) },
        { "TSO with NEEDS_CSUM", (s_tcp, Csum(s_l4, 16, VirtioNetHeader.GsoTcpV4, 1448, hdrLen: 66), true) },
        { "TSO with ECN", (s_tcp, Csum(s_l4, 16, VirtioNetHeader.GsoTcpV4 | VirtioNetHeader.GsoEcn, 1448), true) },
        { "TSO with a finished checksum", (s_tcp, new VirtioNetHeader { GsoType = VirtioNetHeader.GsoTcpV4, GsoSize = 1448 }, false) },
        { "USO", (s_udp, Csum(s_l4, 6, VirtioNetHeader.GsoUdpL4, 1400), true) },
        { "hdr_len the whole frame (the kernel's skb_headlen hint)", (s_tcp, Csum(s_l4, 16, VirtioNetHeader.GsoTcpV4, 1448, hdrLen: s_tcp.Length), true) },
        { "a VLAN-tagged TCP partial", (Frames.Tcp(A, B, options: FrameOptions.Tagged(VlanTag.Dot1Q(7))), Csum(s_l4 + 4, 16), true) },
        { "GRE partial beyond the IPv4 header", (Frames.Gre(A, B), Csum(s_l4 + 4, 2), false) },
        { "IPv6 USO on an IPv6 frame (the translator says not-ipv4)", (Frames.Ipv6Udp(), Csum(54, 6, VirtioNetHeader.GsoUdpL4, 1400), false) },
    };

    public static TheoryData<string> Accepted => [.. s_accepted.Keys];

    [Theory]
    [MemberData(nameof(Accepted))]
    public void ConsistentHeaders_AreAccepted_AndSayWhetherTheChecksumIsPartial(string what)
    {
        var (frame, header, partial) = s_accepted[what];
        Assert.Equal(DropReason.None, OffloadCheck.Validate(frame, header, out bool isPartial));
        Assert.Equal(partial, isPartial);
    }

    [Fact]
    public void TheHeaderReadsAndWritesAsStructVirtioNetHdr_LittleEndian()
    {
        byte[] bytes = [1, 0x81, 0x42, 0x00, 0xA8, 0x05, 0x22, 0x00, 0x10, 0x00];
        var header = VirtioNetHeader.Read(bytes);
        Assert.Equal((1, 0x81, 0x42, 1448, 34, 16), (header.Flags, header.GsoType, header.HeaderLength, header.GsoSize, header.ChecksumStart, header.ChecksumOffset));
        Assert.Equal(VirtioNetHeader.GsoTcpV4, header.GsoKind);
        var written = new byte[10];
        header.Write(written);
        Assert.Equal(bytes, written);
        Assert.Equal(VirtioNetHeader.Size, System.Runtime.CompilerServices.Unsafe.SizeOf<VirtioNetHeader>());
    }
}
