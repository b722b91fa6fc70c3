using System.Buffers.Binary;
using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>What the translator must leave alone: L2 headers and tags, TTL, id, DSCP/ECN, flags, options, payload, padding.</summary>
public class HeaderPreservationTests
{
    private static readonly byte[] s_payload = "payload that must come out as it went in"u8.ToArray();

    [Theory]
    [MemberData(nameof(TrafficCorpus.All), MemberType = typeof(TrafficCorpus))]
    public void OnlyAddressesAndChecksumsChange(string direction, string kind)
    {
        var d = TrafficCorpus.DirectionNamed(direction);
        byte[] input = TrafficCorpus.Case(kind).Build(d.Source, d.Destination);
        byte[] output = new Nat().Forward(input);

        Assert.Equal(input.Length, output.Length);
        int l3 = Frames.Ipv4Offset(input);
        int ihl = (input[l3] & 0x0F) * 4;
        var allowed = new HashSet<int>();
        void Allow(int offset, int length)
        {
            for (int i = 0; i < length; i++)
            {
                allowed.Add(offset + i);
            }
        }
        Allow(l3 + 10, 10); // IPv4 checksum, source, destination
        bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(l3 + 6)) & 0x1FFF) != 0;
        byte protocol = input[l3 + 9];
        if (!fragment && protocol == Frames.ProtocolTcp)
        {
            Allow(l3 + ihl + 16, 2);
        }
        if (!fragment && protocol == Frames.ProtocolUdp)
        {
            Allow(l3 + ihl + 6, 2);
        }
        if (!fragment && protocol == Frames.ProtocolIcmp && input[l3 + ihl] is 3 or 4 or 5 or 11 or 12)
        {
            // The ICMP checksum and the quoted packet's checksums and addresses.
            Allow(l3 + ihl + 2, 2);
            int q = l3 + ihl + 8;
            int innerIhl = (input[q] & 0x0F) * 4;
            Allow(q + 10, 10);
            Allow(q + innerIhl + 16, 2); // a quoted TCP checksum
            Allow(q + innerIhl + 6, 2); // a quoted UDP checksum
        }
        var changed = Enumerable.Range(0, input.Length).Where(i => input[i] != output[i]).ToList();
        Assert.All(changed, i => Assert.Contains(i, allowed));
    }

    [Theory]
    [InlineData(0x8100, 0x0000)]
    [InlineData(0x88A8, 0x8100)]
    [InlineData(0x9100, 0x8100)]
    public void VlanTags_AreKeptByteForByte(int outerTpid, int innerTpid)
    {
        var tags = innerTpid == 0
            ? new[] { new VlanTag((ushort)outerTpid, 4094, 5) }
            : new[] { new VlanTag((ushort)outerTpid, 123, 3), new VlanTag((ushort)innerTpid, 4000, 7) };
        byte[] input = Frames.Tcp(Internet, PublicA, 1, 2, s_payload, new FrameOptions { Vlans = tags });

        byte[] output = new Nat().Forward(input);

        Assert.Equal(input.AsSpan(0, 14 + (4 * tags.Length)).ToArray(), output.AsSpan(0, 14 + (4 * tags.Length)).ToArray());
        Assert.Equal(Frames.Tcp(Internet, PrivateA, 1, 2, s_payload, new FrameOptions { Vlans = tags }), output);
    }

    [Fact]
    public void FourStackedTags_AreTheMostAccepted_AndAllKept()
    {
        var options = FrameOptions.Tagged(VlanTag.Dot1AD(1), VlanTag.Dot1AD(2), VlanTag.Dot1Q(3), VlanTag.Dot1Q(4));
        byte[] output = new Nat().Forward(Frames.Udp(PrivateA, Internet, 1, 2, [1], options));
        Assert.Equal(Frames.Udp(PublicA, Internet, 1, 2, [1], options), output);
    }

    [Fact]
    public void MacAddresses_AreUntouched()
    {
        var options = new FrameOptions { SourceMac = "0A-0B-0C-0D-0E-0F", DestinationMac = "FF-FF-FF-FF-FF-FF" };
        byte[] output = new Nat().Forward(Frames.Tcp(Internet, PublicA, 1, 2, options: options));
        Assert.Equal(Convert.FromHexString("FFFFFFFFFFFF0A0B0C0D0E0F"), output.AsSpan(0, 12).ToArray());
    }

    [Fact]
    public void TtlIdDscpEcnAndFlags_AreLeftAsTheyAre()
    {
        var options = new FrameOptions { Ttl = 1, Id = 0xFEDC, Tos = (46 << 2) | 0b11, DontFragment = true };
        byte[] output = new Nat().Forward(Frames.Tcp(PrivateA, PublicB, 1, 2, s_payload, options));

        var ip = Oracle.Ipv4(output);
        Assert.Equal(1, ip.TimeToLive);
        Assert.Equal(0xFEDC, ip.Id);
        Assert.Equal((46 << 2) | 0b11, ip.TypeOfService);
        Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(14 + 6)));
    }

    [Fact]
    public void IpOptions_AreLeftAsTheyAre()
    {
        byte[] options = [0x83, 0x07, 0x04, 0xC0, 0x00, 0x02, 0x01, 0x01, 0x44, 0x0C, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]; // LSRR, NOP, timestamp
        byte[] input = Frames.Udp(Internet, PublicA, 1, 2, s_payload, new FrameOptions { IpOptions = options });

        byte[] output = new Nat().Forward(input);

        Assert.Equal(0x4A, output[14]);
        Assert.Equal(options, output.AsSpan(14 + 20, options.Length).ToArray());
    }

    [Fact]
    public void TcpHeaderAndPayload_AreLeftAsTheyAre_ExceptTheChecksum()
    {
        byte[] input = Frames.Tcp(Internet, PublicA, 4321, 80, s_payload);
        byte[] output = new Nat().Forward(input);

        Assert.Equal(input.AsSpan(34, 16).ToArray(), output.AsSpan(34, 16).ToArray());
        Assert.Equal(input.AsSpan(34 + 18).ToArray(), output.AsSpan(34 + 18).ToArray());
        Assert.Equal(s_payload, Oracle.Ipv4(output).PayloadPacket.PayloadData);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    [InlineData(26)]
    public void TrailingEthernetPadding_IsKept_AndNotTakenForData(int padding)
    {
        byte[] input = Frames.Udp(PrivateA, Internet, 1, 2, [1, 2], new FrameOptions { Padding = padding });
        byte[] output = new Nat().Forward(input);

        Assert.Equal(input.Length, output.Length);
        Assert.All(output.AsSpan(output.Length - padding).ToArray(), b => Assert.Equal(0xA5, b));
        Assert.Equal(Frames.Udp(PublicA, Internet, 1, 2, [1, 2], new FrameOptions { Padding = padding }), output);
    }
}
