using Gateway.TestSupport;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>
/// Every kind of traffic the translator handles, each as a builder of (outer source, outer destination).
/// An ICMP error here quotes a packet that travelled dst → src, so its inner addresses mirror the outer
/// ones and the correct translation of <c>Build(s, d)</c> is exactly <c>Build(s', d')</c> built from scratch.
/// </summary>
internal static class TrafficCorpus
{
    public sealed record TrafficCase(string Name, Func<string, string, byte[]> Build)
    {
        public override string ToString() => Name;
    }

    /// <summary>One direction through <see cref="Nat"/>: the addresses before and after translation.</summary>
    public sealed record Direction(string Name, string Source, string Destination, string NewSource, string NewDestination)
    {
        public override string ToString() => Name;
    }

    public static readonly Direction Inbound = new("inbound", Nat.Internet, Nat.PublicA, Nat.Internet, Nat.PrivateA);
    public static readonly Direction Outbound = new("outbound", Nat.PrivateA, Nat.Internet, Nat.PublicA, Nat.Internet);
    public static readonly Direction Hairpin = new("hairpin", Nat.PrivateA, Nat.PublicB, Nat.PublicA, Nat.PrivateB);
    public static readonly Direction[] Directions = [Inbound, Outbound, Hairpin];

    private static readonly byte[] s_payload = "The quick brown fox jumps over the lazy dog"u8.ToArray();
    private static readonly byte[] s_routerAlert = [0x94, 0x04, 0x00, 0x00];
    private static readonly byte[] s_recordRoute = [0x07, 0x0B, 0x04, 0xC0, 0x00, 0x02, 0x01, 0, 0, 0, 0, 0x01]; // RR with one hop, then NOP padding

    public static readonly TrafficCase[] Cases =
    [
        new("tcp", (s, d) => Frames.Tcp(s, d, 40000, 443, s_payload)),
        new("tcp-syn-no-payload", (s, d) => Frames.Tcp(s, d, 51000, 22)),
        new("tcp-ttl-id-dscp-df", (s, d) => Frames.Tcp(s, d, 40001, 80, s_payload, new FrameOptions { Ttl = 3, Id = 0xBEEF, Tos = 0xB9, DontFragment = true })),
        new("tcp-ip-options", (s, d) => Frames.Tcp(s, d, 40002, 80, s_payload, new FrameOptions { IpOptions = s_recordRoute })),
        new("tcp-802.1q", (s, d) => Frames.Tcp(s, d, 40003, 80, s_payload, FrameOptions.Tagged(VlanTag.Dot1Q(100)))),
        new("tcp-qinq", (s, d) => Frames.Tcp(s, d, 40004, 80, s_payload, FrameOptions.Tagged(VlanTag.Dot1AD(200), VlanTag.Dot1Q(100)))),
        new("tcp-qinq-9100", (s, d) => Frames.Tcp(s, d, 40005, 80, s_payload, FrameOptions.Tagged(VlanTag.Legacy9100(7), VlanTag.Dot1Q(8)))),
        new("tcp-padded", (s, d) => Frames.Tcp(s, d, 40006, 80, options: new FrameOptions { Padding = 6 })),
        new("udp", (s, d) => Frames.Udp(s, d, 5353, 53, s_payload)),
        new("udp-odd-length", (s, d) => Frames.Udp(s, d, 5353, 53, [1, 2, 3])),
        new("udp-no-checksum", (s, d) => Frames.Udp(s, d, 5353, 53, s_payload, noChecksum: true)),
        new("udp-padded-router-alert", (s, d) => Frames.Udp(s, d, 1234, 4321, [9], new FrameOptions { Padding = 13, IpOptions = s_routerAlert })),
        new("icmp-echo-request", (s, d) => Frames.IcmpEcho(s, d, 0x1234, 7)),
        new("icmp-echo-reply", (s, d) => Frames.IcmpEcho(s, d, 0x1234, 7, reply: true)),
        new("icmp-timestamp", (s, d) => Frames.Icmp(s, d, [13, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])),
        new("gre", (s, d) => Frames.Gre(s, d)),
        new("esp", (s, d) => Frames.Esp(s, d)),
        new("sctp", (s, d) => Frames.Sctp(s, d)),
        new("tcp-first-fragment", (s, d) => Frames.Fragment(Frames.Tcp(s, d, 40007, 80, s_payload), 24)[0]),
        new("tcp-middle-fragment", (s, d) => Frames.Fragment(Frames.Tcp(s, d, 40007, 80, s_payload), 24)[1]),
        new("udp-last-fragment", (s, d) => Frames.Fragment(Frames.Udp(s, d, 40008, 80, s_payload), 16)[^1]),
        new("icmp-error-3-port-unreachable-udp", (s, d) => Frames.IcmpError(s, d, 3, 3, Frames.Udp(d, s, 5353, 53, s_payload))),
        new("icmp-error-3-frag-needed-tcp-8-bytes", (s, d) => Frames.IcmpError(s, d, 3, 4, Frames.Tcp(d, s, 40000, 443, s_payload), quoteLength: 28, restOfHeader: 1400)),
        new("icmp-error-4-source-quench-tcp-18-bytes", (s, d) => Frames.IcmpError(s, d, 4, 0, Frames.Tcp(d, s, 40000, 443, s_payload), quoteLength: 38)),
        new("icmp-error-5-redirect-tcp", (s, d) => Frames.IcmpError(s, d, 5, 1, Frames.Tcp(d, s, 40000, 443, s_payload), restOfHeader: 0xC0000201)),
        new("icmp-error-11-time-exceeded-echo", (s, d) => Frames.IcmpError(s, d, 11, 0, Frames.IcmpEcho(d, s, 9, 9))),
        new("icmp-error-12-parameter-problem-udp-no-checksum", (s, d) => Frames.IcmpError(s, d, 12, 0, Frames.Udp(d, s, 1, 2, s_payload, noChecksum: true), restOfHeader: 0x14000000)),
        new("icmp-error-3-about-udp-576-style-cut", (s, d) => Frames.IcmpError(s, d, 3, 1, Frames.Udp(d, s, 7, 7, s_payload), quoteLength: 40)),
        new("icmp-error-11-inner-options-tcp", (s, d) => Frames.IcmpError(s, d, 11, 1, Frames.Tcp(d, s, 1, 2, s_payload, new FrameOptions { IpOptions = s_routerAlert }))),
        new("icmp-error-3-inner-non-first-fragment", (s, d) => Frames.IcmpError(s, d, 3, 1, Frames.Fragment(Frames.Tcp(d, s, 40007, 80, s_payload), 24)[1])),
        new("icmp-error-3-inner-gre", (s, d) => Frames.IcmpError(s, d, 3, 2, Frames.Gre(d, s))),
        new("icmp-error-outer-options-first-fragment", (s, d) => Frames.Fragment(Frames.IcmpError(s, d, 3, 4, Frames.Tcp(d, s, 1, 2, s_payload), options: new FrameOptions { IpOptions = s_routerAlert }), 64)[0]),
        new("icmp-error-outer-options-last-fragment", (s, d) => Frames.Fragment(Frames.IcmpError(s, d, 3, 4, Frames.Tcp(d, s, 1, 2, s_payload), options: new FrameOptions { IpOptions = s_routerAlert }), 64)[^1]),
        new("icmp-error-qinq-padded", (s, d) => Frames.IcmpError(s, d, 3, 3, Frames.Udp(d, s, 1, 2, [1]), quoteLength: 28, options: new FrameOptions { Vlans = [VlanTag.Dot1AD(3), VlanTag.Dot1Q(4)], Padding = 2 })),
    ];

    /// <summary>Every case in every direction, for theories.</summary>
    public static TheoryData<string, string> All()
    {
        var data = new TheoryData<string, string>();
        foreach (var direction in Directions)
        {
            foreach (var c in Cases)
            {
                data.Add(direction.Name, c.Name);
            }
        }
        return data;
    }

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases)
        {
            data.Add(c.Name);
        }
        return data;
    }

    public static TrafficCase Case(string name) => Cases.Single(c => c.Name == name);

    public static Direction DirectionNamed(string name) => Directions.Single(d => d.Name == name);
}
