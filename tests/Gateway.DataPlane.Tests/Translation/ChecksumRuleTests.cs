using System.Buffers.Binary;
using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>Which checksums change, and how: incrementally (RFC 1624 eqn. 3), never recomputed.</summary>
public class ChecksumRuleTests
{
    private static readonly byte[] s_payload = "0123456789abcdefghijklmnopqrstuvwxyz"u8.ToArray();

    [Theory]
    [InlineData("inbound")]
    [InlineData("outbound")]
    [InlineData("hairpin")]
    public void UdpChecksumZero_MeansNone_AndStaysZero(string direction)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        byte[] output = new Nat().Forward(Frames.Udp(d.Source, d.Destination, 1, 2, s_payload, noChecksum: true));

        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(14 + 20 + 6)));
        Assert.Contains("udp-none", Oracle.Check(output).Verified);
    }

    /// <summary>A UDP payload whose checksum, with the given addresses, computes to 0 (the one's-complement sum is -0).</summary>
    internal static byte[] PayloadMakingUdpChecksumZero(string source, string destination, ushort sourcePort, ushort destinationPort)
    {
        byte[] payload = new byte[6];
        byte[] probe = Frames.Udp(source, destination, sourcePort, destinationPort, payload);
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(probe.AsSpan(Frames.Ipv4Offset(probe) + 20 + 6));
        // Adding the checksum c as a data word makes the sum S + ~S = ffff, whose complement is 0.
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), checksum);
        return payload;
    }

    [Theory]
    [InlineData("inbound")]
    [InlineData("outbound")]
    [InlineData("hairpin")]
    public void UpdatedUdpChecksumThatComesOutZero_IsWrittenFfff(string direction)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        byte[] payload = PayloadMakingUdpChecksumZero(d.NewSource, d.NewDestination, 1000, 2000);
        byte[] input = Frames.Udp(d.Source, d.Destination, 1000, 2000, payload);
        Assert.NotEqual(0, BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(14 + 20 + 6)));

        byte[] output = new Nat().Forward(input);

        // RFC 768: a computed 0 is transmitted as all ones, because 0 would mean "no checksum".
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(14 + 20 + 6)));
        Assert.Contains("udp", Oracle.Check(output).Verified);
        byte[] expected = Frames.Udp(d.NewSource, d.NewDestination, 1000, 2000, payload);
        expected[14 + 20 + 6] = expected[14 + 20 + 7] = 0xFF;
        Assert.Equal(expected, output);
    }

    /// <summary>(a - b) in one's-complement arithmetic, as a value in [0, ffff).</summary>
    private static int OnesComplementDifference(ushort a, ushort b) => (int)(((uint)a + 0xFFFF - b) % 0xFFFF);

    [Theory]
    [InlineData("inbound")]
    [InlineData("outbound")]
    [InlineData("hairpin")]
    public void CorruptTcpChecksum_StaysCorruptByTheSameAmount_BecauseItIsUpdatedNotRecomputed(string direction)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        byte[] input = Frames.Tcp(d.Source, d.Destination, 1, 2, s_payload);
        int at = 14 + 20 + 16;
        ushort good = BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(at));
        ushort corrupt = (ushort)(good ^ 0x0F0F);
        BinaryPrimitives.WriteUInt16BigEndian(input.AsSpan(at), corrupt);

        var (verdict, output) = new Nat().Translate(input);

        Assert.Equal(DropReason.None, verdict);
        var report = Oracle.Check(output);
        Assert.Contains("ip", report.Verified);
        Assert.Equal(["tcp checksum does not verify"], report.Problems);
        ushort expectedGood = BinaryPrimitives.ReadUInt16BigEndian(Frames.Tcp(d.NewSource, d.NewDestination, 1, 2, s_payload).AsSpan(at));
        ushort actual = BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(at));
        Assert.Equal(OnesComplementDifference(corrupt, good), OnesComplementDifference(actual, expectedGood));
    }

    [Fact]
    public void CorruptUdpChecksum_StaysCorrupt()
    {
        byte[] input = Frames.Udp(Internet, PublicA, 1, 2, s_payload);
        input[14 + 20 + 7] ^= 0x01;

        var (verdict, output) = new Nat().Translate(input);

        Assert.Equal(DropReason.None, verdict);
        Assert.Equal(["udp checksum does not verify"], Oracle.Check(output).Problems);
    }

    [Fact]
    public void IpHeaderChecksum_IsUpdatedOnEveryForwardedFrame()
    {
        var nat = new Nat();
        foreach (var direction in TrafficCorpus.Directions)
        {
            foreach (var c in TrafficCorpus.Cases)
            {
                byte[] output = nat.Forward(c.Build(direction.Source, direction.Destination));
                Assert.Contains("ip", Oracle.Check(output).Verified);
            }
        }
    }

    [Theory]
    [InlineData("inbound")]
    [InlineData("outbound")]
    [InlineData("hairpin")]
    public void Fragments_FirstCarriesTheUpdatedTransportChecksum_OthersOnlyTheIpHeader_AndTheReassemblyVerifies(string direction)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        var nat = new Nat();
        byte[] whole = Frames.Tcp(d.Source, d.Destination, 1234, 80, s_payload, new FrameOptions { Id = 0x5151 });
        var fragments = Frames.Fragment(whole, 24); // a first fragment must hold the whole 20-byte TCP header
        Assert.True(fragments.Count >= 3);

        var translated = fragments.Select(f => nat.Forward(f)).ToList();

        for (int i = 1; i < fragments.Count; i++)
        {
            // A non-first fragment: past the IPv4 header nothing changes, even bytes where a TCP checksum would sit.
            Assert.Equal(fragments[i].AsSpan(34).ToArray(), translated[i].AsSpan(34).ToArray());
        }
        var report = Oracle.AssertChecksumsValid(Frames.Reassemble(translated));
        Assert.Contains("tcp", report.Verified);
        Assert.Equal(Frames.Tcp(d.NewSource, d.NewDestination, 1234, 80, s_payload, new FrameOptions { Id = 0x5151 }), Frames.Reassemble(translated));
    }

    [Fact]
    public void UdpFragments_ReassembleToAValidDatagram()
    {
        var nat = new Nat();
        var fragments = Frames.Fragment(Frames.Udp(PrivateA, PublicB, 53, 53, s_payload), 8);
        var report = Oracle.AssertChecksumsValid(Frames.Reassemble(fragments.Select(f => nat.Forward(f))));
        Assert.Contains("udp", report.Verified);
    }

    [Fact]
    public void NonFirstFragment_ShorterThanATransportHeader_IsForwardedWithOnlyTheIpHeaderChanged()
    {
        byte[] input = Frames.Ip(Internet, PublicA, Frames.ProtocolTcp, [0xDE, 0xAD], new FrameOptions { FragmentOffset = 1480 });
        byte[] output = new Nat().Forward(input);
        Assert.Equal(Frames.Ip(Internet, PrivateA, Frames.ProtocolTcp, [0xDE, 0xAD], new FrameOptions { FragmentOffset = 1480 }), output);
    }

    [Theory]
    [InlineData("gre")]
    [InlineData("esp")]
    [InlineData("sctp")]
    public void OtherProtocols_OnlyTheIpHeaderChanges(string kind)
    {
        foreach (var d in TrafficCorpus.Directions)
        {
            byte[] input = TrafficCorpus.Case(kind).Build(d.Source, d.Destination);
            byte[] output = new Nat().Forward(input);
            Assert.Equal(input.AsSpan(34).ToArray(), output.AsSpan(34).ToArray());
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(41)]
    [InlineData(89)]
    [InlineData(103)]
    [InlineData(253)]
    public void UnknownProtocol_WithBytesThatLookLikeAChecksum_OnlyTheIpHeaderChanges(byte protocol)
    {
        byte[] payload = Enumerable.Range(0, 40).Select(i => (byte)(0x80 + i)).ToArray();
        byte[] output = new Nat().Forward(Frames.Ip(PrivateA, PublicB, protocol, payload));
        Assert.Equal(Frames.Ip(PublicA, PrivateB, protocol, payload), output);
    }

    [Theory]
    [InlineData("icmp-echo-request")]
    [InlineData("icmp-echo-reply")]
    [InlineData("icmp-timestamp")]
    public void IcmpQuery_ItsChecksumHasNoPseudoHeader_AndDoesNotChange(string kind)
    {
        foreach (var d in TrafficCorpus.Directions)
        {
            byte[] input = TrafficCorpus.Case(kind).Build(d.Source, d.Destination);
            byte[] output = new Nat().Forward(input);
            Assert.Equal(input.AsSpan(34).ToArray(), output.AsSpan(34).ToArray());
            Assert.Contains("icmp", Oracle.Check(output).Verified);
        }
    }

    [Fact]
    public void IcmpQuery_ThatLooksLikeItQuotesAPacket_IsNotTreatedAsAnError()
    {
        // Type 9 (router advertisement) is not an error: bytes that happen to look like a quoted header stay put.
        byte[] quotedLookalike = Frames.Ipv4Packet(Frames.Tcp(PublicA, Internet, 1, 2));
        byte[] message = [9, 0, 0, 0, 1, 2, 0, 0, .. quotedLookalike];
        byte[] output = new Nat().Forward(Frames.Icmp(Internet, PublicA, message));
        Assert.Equal(Frames.Icmp(Internet, PrivateA, message), output);
    }
}
