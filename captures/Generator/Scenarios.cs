using System.Buffers.Binary;
using static Gateway.CaptureGenerator.Frames;

namespace Gateway.CaptureGenerator;

/// <summary>The captures of the corpus. Every address is from a documentation range (public) or RFC 1918 (private).</summary>
public static class Corpus
{
    /// <summary>Drop reasons in the order the gateway's stats list them.</summary>
    public static readonly string[] ReasonOrder = ["not-ipv4", "malformed", "bad-ip-checksum", "no-binding", "icmp-inner-mismatch"];

    // Instances and their public addresses (corpus.bindings.json).
    public const string A = "10.0.0.5", APublic = "198.51.100.10";
    public const string B = "10.0.0.6", BPublic = "198.51.100.11";
    public const string C = "10.0.1.9", CPublic = "198.51.100.12";
    // The internet, and addresses nobody bound.
    public const string Web = "203.0.113.7", Dns = "203.0.113.53", Router = "192.0.2.1";
    public const string StrayPublic = "198.51.100.99", StrayPrivate = "10.0.0.77";

    public static readonly (string Public, string Private)[] Bindings = [(APublic, A), (BPublic, B), (CPublic, C)];

    private const long T0 = 1_700_000_000L * 1_000_000_000L;
    private const long Ms = 1_000_000;

    private static readonly byte[] Hello = "GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"u8.ToArray();
    private static readonly byte[] Query = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 7, (byte)'e', (byte)'x', (byte)'a', (byte)'m', (byte)'p', (byte)'l', (byte)'e', 0, 0, 1, 0, 1];
    private static readonly byte[] Ping = [.. Enumerable.Range(0, 32).Select(i => (byte)('a' + (i % 23)))];

    private static byte[] Eth(byte[] ip) => Ethernet(ip);

    public static IReadOnlyList<CaptureCase> Build() =>
    [
        InboundOutbound(), IcmpErrors(), Fragments(), VlanQinQ(), IpOptions(), SnapLength(), Sll2Capture(), SllCapture(),
        RawIp(), TwoInterfaces(), BigEndianNanoseconds(), Drops(), Rebinding(), Mixed(),
    ];

    // ---------------------------------------------------------------- the basics

    private static void Basics(ScenarioBuilder s, Func<byte[], byte[]> link, ushort idBase = 100)
    {
        s.Flow("TCP SYN from the internet to A's public address (inbound, DNAT)",
            (src, dst) => Tcp(src, dst, 40000, 80, 1000, syn: true, ack: false, [], id: idBase), Web, APublic, link);
        s.Flow("TCP SYN-ACK from A back to the internet (outbound, SNAT)",
            (src, dst) => Tcp(src, dst, 80, 40000, 5000, syn: true, ack: true, [], id: (ushort)(idBase + 1)), A, Web, link);
        s.Flow("TCP data from the internet to A",
            (src, dst) => Tcp(src, dst, 40000, 80, 1001, syn: false, ack: true, Hello, id: (ushort)(idBase + 2)), Web, APublic, link);
        s.Flow("UDP DNS query from B to the internet (outbound)",
            (src, dst) => Udp(src, dst, 53000, 53, Query, id: (ushort)(idBase + 3)), B, Dns, link);
        s.Flow("UDP DNS answer from the internet to B (inbound)",
            (src, dst) => Udp(src, dst, 53, 53000, [.. Query, 0xC0, 0x0C], id: (ushort)(idBase + 4)), Dns, BPublic, link);
        s.Flow("UDP without a checksum (0 stays 0), inbound",
            (src, dst) => Udp(src, dst, 7000, 7001, [1, 2, 3, 4, 5], noChecksum: true, id: (ushort)(idBase + 5)), Web, CPublic, link);
        s.Flow("ICMP echo request from the internet to C (query: ICMP checksum unchanged)",
            (src, dst) => Echo(src, dst, request: true, 0x1234, 1, Ping, id: (ushort)(idBase + 6)), Web, CPublic, link);
        s.Flow("ICMP echo reply from C to the internet",
            (src, dst) => Echo(src, dst, request: false, 0x1234, 1, Ping, id: (ushort)(idBase + 7)), C, Web, link);
        s.Flow("UDP hairpin: A to B's public address (SNAT and DNAT)",
            (src, dst) => Udp(src, dst, 6000, 6001, [9, 8, 7, 6, 5, 4, 3, 2], id: (ushort)(idBase + 8)), A, BPublic, link);
        s.Flow("TCP from the internet to an unbound public address",
            (src, dst) => Tcp(src, dst, 40001, 443, 77, syn: true, ack: false, [], id: (ushort)(idBase + 9)), Web, StrayPublic, link);
    }

    private static CaptureCase InboundOutbound()
    {
        var c = new CaptureCase
        {
            Name = "inbound-outbound",
            Description = "Ethernet, pcap µs little-endian. TCP, UDP (with and without checksum) and ICMP echo both ways, a hairpin, a frame to an unbound address, and a TCP segment whose checksum arrived corrupt and must leave exactly as corrupt.",
            InputFile = "inbound-outbound.pcap",
            ExpectedFile = "inbound-outbound.expected.pcap",
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, Ms);
        Basics(s, Eth);
        // A corrupt TCP checksum (off by 0x0100 in one's-complement terms) stays off by exactly that much.
        byte[] good = Tcp(Web, APublic, 40002, 80, 3000, syn: false, ack: true, Hello, id: 150);
        byte[] goodOut = Tcp(Web, A, 40002, 80, 3000, syn: false, ack: true, Hello, id: 150);
        s.Exact("TCP with a corrupt checksum: translated, still corrupt by the same amount",
            Eth(CorruptChecksum(good, 20 + 16, 0x0100)), Eth(CorruptChecksum(goodOut, 20 + 16, 0x0100)));
        return c;
    }

    // ---------------------------------------------------------------- ICMP errors

    /// <summary>The packet an ICMP error quotes: the original packet, cut to <paramref name="quote"/> bytes.</summary>
    private static Func<string, string, string, string, byte[]> ErrorAbout(byte type, byte code, Func<string, string, byte[]> original, int quote, ushort id) =>
        (src, dst, innerSrc, innerDst) =>
        {
            byte[] inner = original(innerSrc, innerDst);
            return IcmpError(src, dst, type, code, inner[..Math.Min(quote, inner.Length)], id);
        };

    private static CaptureCase IcmpErrors()
    {
        var c = new CaptureCase
        {
            Name = "icmp-errors",
            Description = "Ethernet, pcap µs. ICMP errors both ways and hairpinned: the quoted packet's addresses, its IP header checksum, its TCP/UDP checksum (when quoted) and the ICMP checksum are all translated; one error quotes a packet that does not mirror the outer addresses (icmp-inner-mismatch).",
            InputFile = "icmp-errors.pcap",
            ExpectedFile = "icmp-errors.expected.pcap",
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, Ms);
        Func<string, string, byte[]> udpOut = (src, dst) => Udp(src, dst, 53001, 53, Query, id: 300);
        Func<string, string, byte[]> tcpIn = (src, dst) => Tcp(src, dst, 40000, 80, 1000, syn: true, ack: false, Hello, id: 301);
        Func<string, string, byte[]> udpNoSum = (src, dst) => Udp(src, dst, 9, 9, [1, 2, 3, 4, 5, 6, 7, 8], noChecksum: true, id: 302);

        // Inbound: A's query left as APublic→Dns; Dns answers port unreachable to APublic quoting APublic→Dns.
        s.IcmpError("inbound port unreachable about A's UDP query (whole datagram quoted)",
            ErrorAbout(3, 3, udpOut, 576, 310), Dns, APublic, APublic, Dns, Eth);
        s.IcmpError("inbound time exceeded from a router, quoting IP header + 8 bytes (RFC 792 minimum)",
            ErrorAbout(11, 0, udpOut, 28, 311), Router, APublic, APublic, Dns, Eth);
        s.IcmpError("inbound fragmentation needed about a UDP datagram without checksum",
            ErrorAbout(3, 4, udpNoSum, 100, 312), Router, BPublic, BPublic, Web, Eth);
        // Outbound: the internet's SYN reached A as Web→A; A answers port unreachable quoting Web→A.
        s.IcmpError("outbound port unreachable from A about a TCP SYN (TCP checksum quoted)",
            ErrorAbout(3, 3, tcpIn, 576, 313), A, Web, Web, A, Eth);
        s.IcmpError("outbound time exceeded from C quoting only 8 bytes of TCP (checksum not quoted)",
            ErrorAbout(11, 0, tcpIn, 28, 314), C, Web, Web, C, Eth);
        // Hairpin: A sent to BPublic; it reached B as APublic→B; B answers to APublic quoting APublic→B.
        s.IcmpError("hairpin port unreachable from B to A's public address",
            ErrorAbout(3, 3, udpOut, 576, 315), B, APublic, APublic, B, Eth);
        s.IcmpError("inbound error quoting a packet from another address (icmp-inner-mismatch)",
            ErrorAbout(3, 1, udpOut, 576, 316), Dns, APublic, BPublic, Dns, Eth);
        s.IcmpError("outbound error quoting a packet to another address (icmp-inner-mismatch)",
            ErrorAbout(3, 3, tcpIn, 576, 317), A, Web, Web, B, Eth);
        s.IcmpError("an error between two unbound addresses (no-binding)",
            ErrorAbout(3, 3, udpOut, 576, 318), Dns, StrayPublic, StrayPublic, Dns, Eth);
        return c;
    }

    // ---------------------------------------------------------------- fragments, tags, options, snap length

    private static CaptureCase Fragments()
    {
        var c = new CaptureCase
        {
            Name = "fragments",
            Description = "Ethernet, pcap µs. A UDP datagram and a TCP segment in two fragments each, inbound and outbound: the first fragment's transport checksum is updated, the second fragment only changes its IP header.",
            InputFile = "fragments.pcap",
            ExpectedFile = "fragments.expected.pcap",
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, Ms);
        byte[] big = [.. Enumerable.Range(0, 120).Select(i => (byte)(i * 7))];
        Func<string, string, byte[]> udp = (src, dst) => Udp(src, dst, 4000, 4001, big, id: 400);
        Func<string, string, byte[]> tcp = (src, dst) => Tcp(src, dst, 443, 40000, 9000, syn: false, ack: true, big, id: 401);
        s.Flow("UDP first fragment, inbound", (src, dst) => Fragment(udp(src, dst), 64).First, Web, APublic, Eth);
        s.Flow("UDP second fragment, inbound", (src, dst) => Fragment(udp(src, dst), 64).Second, Web, APublic, Eth);
        s.Flow("TCP first fragment, outbound", (src, dst) => Fragment(tcp(src, dst), 48).First, A, Web, Eth);
        s.Flow("TCP second fragment, outbound", (src, dst) => Fragment(tcp(src, dst), 48).Second, A, Web, Eth);
        s.Flow("UDP second fragment to an unbound address", (src, dst) => Fragment(udp(src, dst), 64).Second, Web, StrayPublic, Eth);
        return c;
    }

    private static CaptureCase VlanQinQ()
    {
        var c = new CaptureCase
        {
            Name = "vlan-qinq",
            Description = "Ethernet, pcap µs. 802.1Q-tagged and 802.1ad QinQ (0x88a8 over 0x8100, and the legacy 0x9100) frames both ways; the tags are kept.",
            InputFile = "vlan-qinq.pcap",
            ExpectedFile = "vlan-qinq.expected.pcap",
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, Ms);
        Func<byte[], byte[]> dot1q = ip => Ethernet(ip, tags: [(0x8100, 100)]);
        Func<byte[], byte[]> qinq = ip => Ethernet(ip, tags: [(0x88A8, 0x2000 | 10), (0x8100, 200)]);
        Func<byte[], byte[]> legacy = ip => Ethernet(ip, tags: [(0x9100, 30), (0x8100, 300)]);
        Basics(s, dot1q, 500);
        s.Flow("QinQ TCP inbound", (src, dst) => Tcp(src, dst, 40000, 22, 1, syn: true, ack: false, [], id: 520), Web, CPublic, qinq);
        s.Flow("QinQ TCP outbound", (src, dst) => Tcp(src, dst, 22, 40000, 2, syn: true, ack: true, [], id: 521), C, Web, qinq);
        s.Flow("legacy QinQ UDP hairpin", (src, dst) => Udp(src, dst, 1, 2, [1, 2, 3], id: 522), B, APublic, legacy);
        return c;
    }

    private static CaptureCase IpOptions()
    {
        var c = new CaptureCase
        {
            Name = "ip-options",
            Description = "Ethernet, pcap µs. IPv4 headers with options (IHL 6 and 8: NOPs, a record-route option); options are left as they are and the header checksum covers them.",
            InputFile = "ip-options.pcap",
            ExpectedFile = "ip-options.expected.pcap",
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, Ms);
        byte[] nops = [1, 1, 1, 0];
        byte[] recordRoute = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0]; // RR with room for 2 addresses, NOPs, EOL
        s.Flow("UDP with NOP options, inbound", (src, dst) => WithOptions(Udp(src, dst, 5000, 5001, Query, id: 600), nops), Web, APublic, Eth);
        s.Flow("UDP with NOP options, outbound", (src, dst) => WithOptions(Udp(src, dst, 5001, 5000, Query, id: 601), nops), A, Web, Eth);
        s.Flow("TCP with record route, inbound", (src, dst) => WithOptions(Tcp(src, dst, 40000, 80, 5, syn: true, ack: false, [], id: 602), recordRoute), Web, BPublic, Eth);
        s.Flow("TCP with record route, outbound", (src, dst) => WithOptions(Tcp(src, dst, 80, 40000, 6, syn: true, ack: true, [], id: 603), recordRoute), B, Web, Eth);
        s.Flow("ICMP echo with options, hairpin", (src, dst) => WithOptions(Echo(src, dst, request: true, 7, 7, Ping, id: 604), nops), C, APublic, Eth);
        return c;
    }

    private static CaptureCase SnapLength()
    {
        var c = new CaptureCase
        {
            Name = "snaplen",
            Description = "Ethernet, pcap µs, snap length 96. Frames cut by the capture (captured length < original length): every captured field is translated, lengths are judged against the original length; a frame cut inside the TCP header has only its IP header translated; a frame cut inside the IPv4 header is malformed.",
            InputFile = "snaplen.pcap",
            ExpectedFile = "snaplen.expected.pcap",
            SnapLength = 96,
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, Ms);
        byte[] page = [.. Enumerable.Range(0, 1200).Select(i => (byte)(i % 251))];
        s.Flow("TCP segment of 1200 bytes cut at 96, inbound", (src, dst) => Tcp(src, dst, 80, 40000, 1, syn: false, ack: true, page, id: 700), Web, APublic, Eth, capturedLength: 96);
        s.Flow("UDP datagram cut at 96, outbound", (src, dst) => Udp(src, dst, 4000, 4001, page, id: 701), A, Web, Eth, capturedLength: 96);
        s.Flow("TCP cut at 40 bytes: IP header whole, TCP checksum not captured", (src, dst) => Tcp(src, dst, 80, 40000, 2, syn: false, ack: true, page, id: 702), Web, BPublic, Eth, capturedLength: 40);
        s.Flow("ICMP echo request cut at 50 bytes (its checksum needs no payload)", (src, dst) => Echo(src, dst, request: true, 3, 3, page, id: 703), C, Router, Eth, capturedLength: 50);
        s.Dropped("frame cut inside the IPv4 header (malformed)", Eth(Udp(Web, APublic, 1, 2, page, id: 705)), "malformed", capturedLength: 30);
        return c;
    }

    // ---------------------------------------------------------------- link types and containers

    private static CaptureCase Sll2Capture()
    {
        var c = new CaptureCase
        {
            Name = "sll2",
            Description = "Linux cooked v2 (link type 276, what tcpdump -i any writes), pcap µs. TCP/UDP/ICMP both ways; an ARP frame (protocol 0x0806) is not-ipv4.",
            InputFile = "sll2.pcap",
            ExpectedFile = "sll2.expected.pcap",
            LinkType = 276,
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, Ms);
        Basics(s, ip => Sll2(ip), 800);
        s.Dropped("ARP in SLL2 (not-ipv4)", Sll2(ArpRequest(Web, APublic), 0x0806), "not-ipv4");
        s.Dropped("IPv6 in SLL2 (not-ipv4)", Sll2(Ipv6Udp(), 0x86DD), "not-ipv4");
        return c;
    }

    private static CaptureCase SllCapture()
    {
        var c = new CaptureCase
        {
            Name = "sll",
            Description = "Linux cooked v1 (link type 113), pcap µs. Inbound and outbound UDP and TCP; an IPv6 packet is not-ipv4.",
            InputFile = "sll.pcap",
            ExpectedFile = "sll.expected.pcap",
            LinkType = 113,
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, Ms);
        s.Flow("UDP inbound", (src, dst) => Udp(src, dst, 1000, 2000, Query, id: 900), Dns, APublic, ip => Sll(ip));
        s.Flow("UDP outbound", (src, dst) => Udp(src, dst, 2000, 1000, Query, id: 901), A, Dns, ip => Sll(ip, outgoing: true));
        s.Flow("TCP hairpin", (src, dst) => Tcp(src, dst, 3000, 22, 9, syn: true, ack: false, [], id: 902), C, BPublic, ip => Sll(ip, outgoing: true));
        s.Dropped("IPv6 in SLL (not-ipv4)", Sll(Ipv6Udp(), 0x86DD), "not-ipv4");
        return c;
    }

    private static CaptureCase RawIp()
    {
        var c = new CaptureCase
        {
            Name = "raw-ip",
            Description = "Raw IP (link type 101), pcap ns. IPv4 both ways; an IPv6 packet (version nibble 6) is not-ipv4.",
            InputFile = "raw-ip.pcap",
            ExpectedFile = "raw-ip.expected.pcap",
            LinkType = 101,
            Nanoseconds = true,
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0 + 123, Ms + 7);
        s.Flow("TCP inbound", (src, dst) => Tcp(src, dst, 40000, 80, 1, syn: true, ack: false, [], id: 1000), Web, APublic, ip => ip);
        s.Flow("TCP outbound", (src, dst) => Tcp(src, dst, 80, 40000, 2, syn: true, ack: true, [], id: 1001), A, Web, ip => ip);
        s.Flow("ICMP echo outbound", (src, dst) => Echo(src, dst, request: true, 1, 1, Ping, id: 1002), B, Router, ip => ip);
        s.Dropped("IPv6 packet (not-ipv4)", Ipv6Udp(), "not-ipv4");
        return c;
    }

    private static CaptureCase TwoInterfaces()
    {
        var c = new CaptureCase
        {
            Name = "two-interfaces",
            Description = "pcapng, little-endian, two Ethernet interfaces: 0 with µs timestamps, 1 with ns timestamps (if_tsresol 9). Options on every block, an unknown block type and a name resolution block (skipped), and a simple packet block (interface 0, no timestamp). The output is pcapng with both interfaces.",
            InputFile = "two-interfaces.pcapng",
            ExpectedFile = "two-interfaces.expected.pcapng",
            Interfaces = [new InterfaceSpec(1, 65535, 6, "internet0"), new InterfaceSpec(1, 65535, 9, "vpc0")],
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, Ms);
        s.Flow("Ethernet TCP inbound on interface 0", (src, dst) => Tcp(src, dst, 40000, 80, 1, syn: true, ack: false, [], id: 1100), Web, APublic, Eth);
        s.At(T0 + (2 * Ms) + 456);
        s.Flow("TCP outbound on interface 1 (ns timestamp)", (src, dst) => Tcp(src, dst, 80, 40000, 2, syn: true, ack: true, [], id: 1101), A, Web, ip => Ethernet(ip, fromInternet: false), iface: 1);
        s.Flow("Ethernet UDP outbound on interface 0", (src, dst) => Udp(src, dst, 5, 6, Query, id: 1102), C, Dns, Eth);
        s.At(T0 + (4 * Ms) + 789);
        s.Flow("UDP inbound on interface 1", (src, dst) => Udp(src, dst, 6, 5, Query, id: 1103), Dns, CPublic, Eth, iface: 1);
        s.Flow("simple packet block (interface 0, no timestamp), inbound", (src, dst) => Echo(src, dst, request: true, 2, 2, Ping, id: 1104), Web, BPublic, Eth, simple: true);
        s.Flow("UDP to an unbound address on interface 1", (src, dst) => Udp(src, dst, 6, 5, Query, id: 1105), Dns, StrayPublic, Eth, iface: 1);
        return c;
    }

    private static CaptureCase BigEndianNanoseconds()
    {
        var c = new CaptureCase
        {
            Name = "big-endian-ns",
            Description = "Ethernet, pcap written big-endian with nanosecond timestamps (magic a1b23c4d as a big-endian machine writes it). The output is little-endian with nanosecond timestamps.",
            InputFile = "big-endian-ns.pcap",
            ExpectedFile = "big-endian-ns.expected.pcap",
            Nanoseconds = true,
            BigEndian = true,
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0 + 999_999_001, 333_333_333);
        Basics(s, Eth, 1200);
        return c;
    }

    // ---------------------------------------------------------------- drops

    /// <summary>
    /// Breaks a header on purpose and recomputes the IPv4 header checksum by hand (RFC 1071): PacketDotNet
    /// refuses to parse some of these headers, and each frame should be wrong for one reason only.
    /// </summary>
    private static byte[] Edit(byte[] ip, Action<byte[]> edit, bool fixChecksum)
    {
        byte[] copy = [.. ip];
        edit(copy);
        if (fixChecksum)
        {
            copy[10] = 0;
            copy[11] = 0;
            uint sum = 0;
            for (int i = 0; i < 20; i += 2)
            {
                sum += BinaryPrimitives.ReadUInt16BigEndian(copy.AsSpan(i));
            }
            while (sum > 0xFFFF)
            {
                sum = (sum & 0xFFFF) + (sum >> 16);
            }
            BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(10), (ushort)~sum);
        }
        return copy;
    }

    private static CaptureCase Drops()
    {
        var c = new CaptureCase
        {
            Name = "drops",
            Description = "Ethernet, pcap µs. One frame or more for every drop reason replay can produce (not-ipv4, malformed, bad-ip-checksum, no-binding, icmp-inner-mismatch), between two frames that are forwarded. spoofed-source, neighbour-unresolved and queue-full belong to the live ports and cannot happen in replay.",
            InputFile = "drops.pcap",
            ExpectedFile = "drops.expected.pcap",
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, Ms);
        byte[] udp = Udp(Web, APublic, 1, 2, Query, id: 1300);
        s.Flow("forwarded: UDP inbound", (src, dst) => Udp(src, dst, 1, 2, Query, id: 1300), Web, APublic, Eth);
        s.Dropped("ARP request (not-ipv4)", Ethernet(ArpRequest(Web, APublic), etherType: 0x0806), "not-ipv4");
        s.Dropped("IPv6 (not-ipv4)", Ethernet(Ipv6Udp(), etherType: 0x86DD), "not-ipv4");
        s.Dropped("VLAN-tagged ARP (not-ipv4 after the tags)", Ethernet(ArpRequest(Web, APublic), tags: [(0x8100, 5)], etherType: 0x0806), "not-ipv4");
        s.Dropped("frame of 24 bytes: IPv4 header not there whole (malformed)", Ethernet(udp[..10], pad: false), "malformed");
        s.Dropped("IHL 4 (malformed)", Eth(Edit(udp, b => b[0] = 0x44, fixChecksum: true)), "malformed");
        s.Dropped("version 6 in an IPv4 EtherType (malformed)", Eth(Edit(udp, b => b[0] = 0x65, fixChecksum: true)), "malformed");
        s.Dropped("total length beyond the frame (malformed)", Eth(Edit(udp, b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), 1400), fixChecksum: true)), "malformed");
        s.Dropped("UDP header does not fit in the total length (malformed)",
            Eth(Edit(udp[..24], b => BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(2), 24), fixChecksum: true)), "malformed");
        s.Dropped("ICMP error too short to quote an IP header and 8 bytes (malformed)",
            Eth(IcmpError(Dns, APublic, 3, 3, Udp(APublic, Dns, 1, 2, Query, id: 1301)[..20], id: 1302)), "malformed");
        s.Dropped("five stacked VLAN tags (malformed)", Ethernet(udp, tags: [(0x8100, 1), (0x8100, 2), (0x8100, 3), (0x8100, 4), (0x8100, 5)]), "malformed");
        s.Dropped("IPv4 header checksum off by one (bad-ip-checksum)", Eth(CorruptChecksum(udp, 10, 1)), "bad-ip-checksum");
        s.Flow("neither address bound (no-binding)", (src, dst) => Udp(src, dst, 1, 2, Query, id: 1303), Web, Dns, Eth);
        s.Flow("an unbound private source (no-binding)", (src, dst) => Udp(src, dst, 1, 2, Query, id: 1304), StrayPrivate, Web, Eth);
        s.IcmpError("ICMP error whose quoted packet is not about this flow (icmp-inner-mismatch)",
            ErrorAbout(3, 3, (src, dst) => Udp(src, dst, 1, 2, Query, id: 1305), 576, 1306), Dns, APublic, CPublic, Dns, Eth);
        s.Flow("forwarded: UDP outbound", (src, dst) => Udp(src, dst, 2, 1, Query, id: 1307), A, Web, Eth);
        return c;
    }

    // ---------------------------------------------------------------- a rebinding timeline

    private static CaptureCase Rebinding()
    {
        const string Eip = "198.51.100.20", Eip2 = "198.51.100.21";
        const string D = "10.0.0.7", E = "10.0.0.8";
        var c = new CaptureCase
        {
            Name = "rebinding",
            Description = $"Ethernet, pcap µs, with rebinding.events.jsonl. The EIP {Eip} starts on {D}; at t0+2 s it moves to {E} (bind), at t0+4 s it is released (unbind), at t0+5 s {D} gets {Eip2}. Frames before, at and after each change show the old binding, the new one, and no-binding for the address that lost it.",
            InputFile = "rebinding.pcap",
            ExpectedFile = "rebinding.expected.pcap",
            BindingsFile = "rebinding.bindings.json",
            EventsFile = "rebinding.events.jsonl",
        };
        var nat = new NatModel((Eip, D));
        var s = new ScenarioBuilder(c, nat, T0, Ms);
        const long Second = 1_000_000_000;
        Func<string, string, byte[]> inbound = (src, dst) => Udp(src, dst, 9000, 9001, Query, id: 1400);
        Func<string, string, byte[]> outbound = (src, dst) => Udp(src, dst, 9001, 9000, Query, id: 1401);
        s.At(T0 + Second);
        s.Flow("t0+1 s: inbound to the EIP reaches D", inbound, Web, Eip, Eth);
        s.Flow("t0+1 s: D leaves as the EIP", outbound, D, Web, Eth);
        s.At(T0 + (2 * Second) - 1000);
        s.Flow("1 µs before the move: still D", inbound, Web, Eip, Eth);
        s.Event(T0 + (2 * Second), "bind", Eip, E);
        s.At(T0 + (2 * Second));
        s.Flow("at the move's exact capture time: E", inbound, Web, Eip, Eth);
        s.At(T0 + (3 * Second));
        s.Flow("t0+3 s: D lost its binding (no-binding)", outbound, D, Web, Eth);
        s.Flow("t0+3 s: E leaves as the EIP", outbound, E, Web, Eth);
        s.Event(T0 + (4 * Second), "unbind", Eip, null);
        s.At(T0 + (4 * Second) + (500 * Ms));
        s.Flow("t0+4.5 s: the released EIP answers nothing (no-binding)", inbound, Web, Eip, Eth);
        s.Flow("t0+4.5 s: E has no public address any more (no-binding)", outbound, E, Web, Eth);
        s.Event(T0 + (5 * Second), "bind", Eip2, D);
        s.At(T0 + (5 * Second) + (500 * Ms));
        s.Flow("t0+5.5 s: D leaves as its new address", outbound, D, Web, Eth);
        s.Flow("t0+5.5 s: the new address reaches D", inbound, Web, Eip2, Eth);
        return c;
    }

    // ---------------------------------------------------------------- the demo capture

    private static CaptureCase Mixed()
    {
        var c = new CaptureCase
        {
            Name = "mixed",
            Description = "The demo capture (demo.sh replays it): Ethernet, pcap µs, a bit of everything above — TCP/UDP/ICMP both ways, hairpin, an ICMP error each way, VLAN and QinQ frames, fragments, and drops of every kind replay can produce.",
            InputFile = "mixed.pcap",
            ExpectedFile = "mixed.expected.pcap",
            BindingsFile = "mixed.bindings.json",
        };
        var s = new ScenarioBuilder(c, new NatModel(Bindings), T0, 10 * Ms);
        Basics(s, Eth, 2000);
        Basics(s, ip => Ethernet(ip, tags: [(0x8100, 42)]), 2100);
        s.Flow("QinQ outbound", (src, dst) => Udp(src, dst, 1, 2, Query, id: 2200), C, Dns, ip => Ethernet(ip, tags: [(0x88A8, 7), (0x8100, 8)]));
        byte[] big = [.. Enumerable.Range(0, 100).Select(i => (byte)i)];
        s.Flow("UDP first fragment inbound", (src, dst) => Fragment(Udp(src, dst, 3, 4, big, id: 2201), 64).First, Web, BPublic, Eth);
        s.Flow("UDP second fragment inbound", (src, dst) => Fragment(Udp(src, dst, 3, 4, big, id: 2201), 64).Second, Web, BPublic, Eth);
        s.IcmpError("inbound port unreachable about A's query", ErrorAbout(3, 3, (src, dst) => Udp(src, dst, 53002, 53, Query, id: 2202), 576, 2203), Dns, APublic, APublic, Dns, Eth);
        s.IcmpError("outbound port unreachable from B", ErrorAbout(3, 3, (src, dst) => Udp(src, dst, 5, 6, Query, id: 2204), 576, 2205), B, Web, Web, B, Eth);
        s.IcmpError("mismatched ICMP error", ErrorAbout(3, 3, (src, dst) => Udp(src, dst, 5, 6, Query, id: 2206), 576, 2207), Dns, APublic, CPublic, Dns, Eth);
        s.Dropped("ARP", Ethernet(ArpRequest(Web, APublic), etherType: 0x0806), "not-ipv4");
        s.Dropped("IPv6", Ethernet(Ipv6Udp(), etherType: 0x86DD), "not-ipv4");
        byte[] udp = Udp(Web, APublic, 1, 2, Query, id: 2208);
        s.Dropped("bad IPv4 header checksum", Eth(CorruptChecksum(udp, 10, 1)), "bad-ip-checksum");
        s.Dropped("truncated IPv4 header", Ethernet(udp[..12], pad: false), "malformed");
        return c;
    }
}
