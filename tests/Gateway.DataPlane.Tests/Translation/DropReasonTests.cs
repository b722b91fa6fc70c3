using System.Buffers.Binary;
using Gateway.TestSupport;
using static Gateway.DataPlane.Translation.Tests.Nat;

namespace Gateway.DataPlane.Translation.Tests;

/// <summary>Every drop reason of the contract, and every malformed condition it lists. A dropped frame is never written.</summary>
public class DropReasonTests
{
    private static readonly byte[] s_payload = "abcdefgh"u8.ToArray();

    [Fact]
    public void DropReasonNames_AreTheExactNamesTheStatsUse()
    {
        Assert.Equal("not-ipv4", DropReasons.Name(DropReason.NotIpv4));
        Assert.Equal("malformed", DropReasons.Name(DropReason.Malformed));
        Assert.Equal("bad-ip-checksum", DropReasons.Name(DropReason.BadIpChecksum));
        Assert.Equal("no-binding", DropReasons.Name(DropReason.NoBinding));
        Assert.Equal("icmp-inner-mismatch", DropReasons.Name(DropReason.IcmpInnerMismatch));
        foreach (var reason in DropReasons.All)
        {
            Assert.True(DropReasons.TryParse(DropReasons.Name(reason), out var parsed));
            Assert.Equal(reason, parsed);
        }
        Assert.False(DropReasons.TryParse("none", out _));
        Assert.False(DropReasons.TryParse("Malformed", out _));
    }

    // ----- not-ipv4 -----

    public static TheoryData<string> NotIpv4Frames => new() { "arp", "ipv6", "arp-802.1q", "ipv6-qinq", "lldp", "802.3-length", "ipv4-ethertype-inside-unknown" };

    private static byte[] NotIpv4(string name) => name switch
    {
        "arp" => Frames.Arp(),
        "ipv6" => Frames.Ipv6Udp(),
        "arp-802.1q" => Frames.Arp(options: FrameOptions.Tagged(VlanTag.Dot1Q(10))),
        "ipv6-qinq" => Frames.Ipv6Udp(options: FrameOptions.Tagged(VlanTag.Dot1AD(10), VlanTag.Dot1Q(20))),
        "lldp" => Frames.OtherEtherType(0x88CC, new byte[46]),
        "802.3-length" => Frames.OtherEtherType(0x002E, new byte[46]),
        // An IPv4 packet behind an EtherType the translator does not walk (MPLS).
        "ipv4-ethertype-inside-unknown" => Frames.OtherEtherType(0x8847, Frames.Ipv4Packet(Frames.Tcp(Internet, PublicA))),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(NotIpv4Frames))]
    public void NotIpv4AfterTheTags_IsDroppedAsNotIpv4(string kind)
    {
        var nat = new Nat();
        nat.AssertDropped(NotIpv4(kind), DropReason.NotIpv4);
        Assert.Equal(1, nat.Counters.DropPacketCount(DropReason.NotIpv4));
    }

    // ----- bad-ip-checksum -----

    [Fact]
    public void IpHeaderChecksumThatDoesNotVerify_IsDroppedAsBadIpChecksum()
    {
        var nat = new Nat();
        byte[] good = Frames.Tcp(Internet, PublicA, 1, 2, s_payload, new FrameOptions { IpOptions = [1, 1, 1, 0] });
        for (int i = 0; i < 24; i++)
        {
            if (i is 0 or 2 or 3)
            {
                continue; // version/IHL and total length: a change there is malformed first
            }
            byte[] bad = (byte[])good.Clone();
            bad[14 + i] ^= 0x10;
            nat.AssertDropped(bad, DropReason.BadIpChecksum);
        }
        Assert.Equal(21, nat.Counters.DropPacketCount(DropReason.BadIpChecksum));
    }

    [Fact]
    public void TtlDecrementedWithoutFixingTheChecksum_IsDroppedAsBadIpChecksum()
    {
        new Nat().AssertDropped(Frames.WithIpv4Byte(Frames.Udp(PrivateA, Internet, 1, 2), 8, 63, fixChecksum: false), DropReason.BadIpChecksum);
    }

    // ----- no-binding -----

    [Theory]
    [InlineData(Internet, UnboundPublic)]
    [InlineData(UnboundPrivate, Internet)]
    [InlineData(Internet, Router)]
    [InlineData(UnboundPrivate, UnboundPublic)]
    [InlineData(PublicA, Internet)] // a public address as a source is not an outbound binding
    [InlineData(Internet, PrivateA)] // a private address as a destination is not an inbound binding
    public void NeitherAddressBound_IsDroppedAsNoBinding(string source, string destination)
    {
        var nat = new Nat();
        nat.AssertDropped(Frames.Tcp(source, destination, 1, 2), DropReason.NoBinding);
        nat.AssertDropped(Frames.IcmpEcho(source, destination), DropReason.NoBinding);
        Assert.Equal(2, nat.Counters.DropPacketCount(DropReason.NoBinding));
    }

    [Fact]
    public void AfterUnbind_TheAddressIsNoLongerTranslated()
    {
        var nat = new Nat();
        nat.Forward(Frames.Tcp(Internet, PublicA));
        Assert.True(nat.Table.UnbindPublic(Ip(PublicA)));
        nat.AssertDropped(Frames.Tcp(Internet, PublicA), DropReason.NoBinding);
        nat.AssertDropped(Frames.Tcp(PrivateA, Internet), DropReason.NoBinding);
    }

    // ----- malformed: every condition the contract lists -----

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(12)]
    [InlineData(13)]
    public void FrameShorterThanTheEthernetHeader_IsMalformed(int length)
    {
        byte[] frame = Frames.Tcp(Internet, PublicA).AsSpan(0, length).ToArray();
        new Nat().AssertDropped(frame, DropReason.Malformed);
    }

    [Theory]
    [InlineData(14)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(18)]
    [InlineData(19)]
    public void FrameEndingInsideItsVlanTags_IsMalformed(int length)
    {
        byte[] frame = Frames.Tcp(Internet, PublicA, options: FrameOptions.Tagged(VlanTag.Dot1AD(1), VlanTag.Dot1Q(2))).AsSpan(0, length).ToArray();
        new Nat().AssertDropped(frame, DropReason.Malformed);
    }

    [Fact]
    public void MoreThanFourStackedVlanTags_IsMalformed()
    {
        var tags = Enumerable.Range(1, 5).Select(i => VlanTag.Dot1Q((ushort)i)).ToArray();
        new Nat().AssertDropped(Frames.Tcp(Internet, PublicA, options: new FrameOptions { Vlans = tags }), DropReason.Malformed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(19)]
    public void Ipv4HeaderNotCapturedWhole_IsMalformed_EvenWhenTheWireFrameWasLonger(int capturedIpBytes)
    {
        byte[] whole = Frames.Tcp(Internet, PublicA, 1, 2, s_payload);
        new Nat().AssertDropped(whole.AsSpan(0, 14 + capturedIpBytes).ToArray(), DropReason.Malformed, wireLength: whole.Length);
    }

    [Theory]
    [InlineData(20)]
    [InlineData(23)]
    [InlineData(27)]
    public void Ipv4HeaderWithOptionsNotCapturedWhole_IsMalformed(int capturedIpBytes)
    {
        byte[] whole = Frames.Tcp(Internet, PublicA, 1, 2, s_payload, new FrameOptions { IpOptions = [1, 1, 1, 1, 1, 1, 1, 0] });
        new Nat().AssertDropped(whole.AsSpan(0, 14 + capturedIpBytes).ToArray(), DropReason.Malformed, wireLength: whole.Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(15)]
    public void Ipv4VersionNot4_IsMalformed(int version)
    {
        byte[] frame = Frames.WithIpv4Byte(Frames.Tcp(Internet, PublicA, 1, 2, s_payload), 0, (byte)((version << 4) | 5));
        new Nat().AssertDropped(frame, DropReason.Malformed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    public void IhlBelow5_IsMalformed(int ihl)
    {
        byte[] frame = Frames.WithIpv4Byte(Frames.Tcp(Internet, PublicA, 1, 2, s_payload), 0, (byte)(0x40 | ihl));
        new Nat().AssertDropped(frame, DropReason.Malformed);
    }

    [Fact]
    public void IhlBeyondTheFrame_IsMalformed()
    {
        byte[] frame = Frames.WithIpv4Byte(Frames.Udp(Internet, PublicA), 0, 0x4F); // 60-byte header in a 28-byte packet
        new Nat().AssertDropped(frame, DropReason.Malformed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(19)]
    [InlineData(23)]
    public void TotalLengthBelowTheHeaderLength_IsMalformed(int totalLength)
    {
        byte[] frame = Frames.EditIpv4(Frames.Tcp(Internet, PublicA, 1, 2, s_payload, new FrameOptions { IpOptions = [1, 1, 1, 0] }), ip => ip.TotalLength = totalLength);
        new Nat().AssertDropped(frame, DropReason.Malformed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(65535)]
    public void TotalLengthBeyondTheFramesOriginalLength_IsMalformed(int extra)
    {
        byte[] good = Frames.Tcp(Internet, PublicA, 1, 2, s_payload);
        int total = Math.Min(65535, good.Length - 14 + extra);
        byte[] frame = Frames.EditIpv4(good, ip => ip.TotalLength = total);
        new Nat().AssertDropped(frame, DropReason.Malformed);
        // ...and still malformed when a capture says the wire frame was longer, but not long enough.
        new Nat().AssertDropped(frame, DropReason.Malformed, wireLength: 14 + total - 1);
    }

    [Fact]
    public void TotalLengthWithinTheOriginalLength_OfASnapCutFrame_IsNotMalformed()
    {
        byte[] whole = Frames.Tcp(Internet, PublicA, 1, 2, new byte[1000]);
        var (verdict, _) = new Nat().Translate(whole.AsSpan(0, 64).ToArray(), wireLength: whole.Length);
        Assert.Equal(DropReason.None, verdict);
    }

    public static TheoryData<string, int> ShortTransportHeaders => new()
    {
        { "tcp", 20 }, { "udp", 8 }, { "icmp", 8 },
    };

    private static byte[] Transport(string protocol, FrameOptions? options = null) => protocol switch
    {
        "tcp" => Frames.Tcp(Internet, PublicA, 1, 2, new byte[40], options),
        "udp" => Frames.Udp(Internet, PublicA, 1, 2, new byte[40], options),
        _ => Frames.IcmpEcho(Internet, PublicA, payload: new byte[40], options: options),
    };

    [Theory]
    [MemberData(nameof(ShortTransportHeaders))]
    public void UnfragmentedPacket_WhoseTransportHeaderDoesNotFitItsTotalLength_IsMalformed(string protocol, int headerLength)
    {
        var nat = new Nat();
        for (int fits = 0; fits < headerLength; fits++)
        {
            int bytes = fits;
            nat.AssertDropped(Frames.EditIpv4(Transport(protocol), ip => ip.TotalLength = 20 + bytes), DropReason.Malformed);
        }
        // The exact header alone fits: forwarded.
        Assert.Equal(DropReason.None, nat.Translate(Frames.EditIpv4(Transport(protocol), ip => ip.TotalLength = 20 + headerLength)).Verdict);
    }

    [Theory]
    [MemberData(nameof(ShortTransportHeaders))]
    public void FirstFragment_WhoseTransportHeaderDoesNotFit_IsMalformed(string protocol, int headerLength)
    {
        var nat = new Nat();
        var moreFragments = new FrameOptions { MoreFragments = true };
        nat.AssertDropped(Frames.EditIpv4(Transport(protocol, moreFragments), ip => ip.TotalLength = 20 + headerLength - 1), DropReason.Malformed);
        Assert.Equal(DropReason.None, nat.Translate(Frames.EditIpv4(Transport(protocol, moreFragments), ip => ip.TotalLength = 20 + headerLength)).Verdict);
    }

    [Theory]
    [InlineData(Frames.ProtocolTcp)]
    [InlineData(Frames.ProtocolUdp)]
    [InlineData(Frames.ProtocolIcmp)]
    public void NonFirstFragment_ShorterThanATransportHeader_IsNotMalformed(byte protocol)
    {
        byte[] frame = Frames.Ip(Internet, PublicA, protocol, [1], new FrameOptions { FragmentOffset = 8 });
        Assert.Equal(DropReason.None, new Nat().Translate(frame).Verdict);
    }

    [Fact]
    public void OtherProtocolWithNoPayloadAtAll_IsNotMalformed()
    {
        Assert.Equal(DropReason.None, new Nat().Translate(Frames.Ip(Internet, PublicA, Frames.ProtocolGre, [])).Verdict);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(11)]
    [InlineData(12)]
    public void IcmpError_WhoseQuotedHeaderPlus8BytesDoesNotFit_IsMalformed(byte type)
    {
        var nat = new Nat();
        byte[] about = Frames.Udp(PublicA, Internet, 1, 2, s_payload);
        for (int quote = 0; quote < 28; quote++)
        {
            nat.AssertDropped(Frames.IcmpError(Router, PublicA, type, 0, about, quote), DropReason.Malformed);
        }
        Assert.Equal(DropReason.None, nat.Translate(Frames.IcmpError(Router, PublicA, type, 0, about, 28)).Verdict);
    }

    [Fact]
    public void IcmpError_WhoseQuotedHeaderHasOptionsThatDoNotFit_IsMalformed()
    {
        byte[] about = Frames.Udp(PublicA, Internet, 1, 2, s_payload, new FrameOptions { IpOptions = [1, 1, 1, 0] });
        new Nat().AssertDropped(Frames.IcmpError(Router, PublicA, 3, 3, about, 24 + 7), DropReason.Malformed);
        Assert.Equal(DropReason.None, new Nat().Translate(Frames.IcmpError(Router, PublicA, 3, 3, about, 24 + 8)).Verdict);
    }

    [Theory]
    [InlineData(0x65)]
    [InlineData(0x45 - 0x40)]
    [InlineData(0x44)]
    [InlineData(0x40)]
    public void IcmpError_WhoseQuotedHeaderIsNotIpv4OrHasIhlBelow5_IsMalformed(byte versionIhl)
    {
        byte[] about = Frames.Udp(PublicA, Internet, 1, 2, s_payload);
        byte[] quoted = Frames.Ipv4Packet(about);
        quoted[0] = versionIhl;
        byte[] frame = Frames.Icmp(Router, PublicA, [3, 3, 0, 0, 0, 0, 0, 0, .. quoted]);
        new Nat().AssertDropped(frame, DropReason.Malformed);
    }

    [Fact]
    public void MalformedIsJudgedBeforeTheChecksum_SoABrokenHeaderWithABadChecksumIsMalformed()
    {
        byte[] frame = Frames.WithIpv4Byte(Frames.Tcp(Internet, PublicA), 0, 0x44, fixChecksum: false);
        new Nat().AssertDropped(frame, DropReason.Malformed);
    }

    [Fact]
    public void BadChecksumIsJudgedBeforeBindings_SoAnUnboundFrameWithABadChecksumIsBadIpChecksum()
    {
        byte[] frame = Frames.Tcp(Internet, UnboundPublic);
        frame[14 + 10] ^= 0xFF;
        new Nat().AssertDropped(frame, DropReason.BadIpChecksum);
    }

    [Fact]
    public void MalformedIcmpErrorToAnUnboundAddress_IsMalformedNotNoBinding()
    {
        byte[] frame = Frames.IcmpError(Router, UnboundPublic, 3, 3, Frames.Udp(UnboundPublic, Internet, 1, 2), 27);
        new Nat().AssertDropped(frame, DropReason.Malformed);
    }

    [Fact]
    public void IpVersionFieldSaysIpv4ButEtherTypeSaysIpv6_IsNotIpv4()
    {
        byte[] frame = Frames.Tcp(Internet, PublicA);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x86DD);
        new Nat().AssertDropped(frame, DropReason.NotIpv4);
    }
}

/// <summary>Regression tests: the limited broadcast and the unspecified address must never look bound.</summary>
public class SentinelAddressTests
{
    [Fact]
    public void DhcpDiscoverFromTheVpc_SourceUnspecifiedAddress_IsNoBinding()
    {
        // 0.0.0.0 → 255.255.255.255 (RFC 2131 §4.1) is what an instance without a lease sends.
        var nat = new Nat();
        nat.AssertDropped(Frames.Udp("0.0.0.0", "255.255.255.255", 68, 67, new byte[240]), DropReason.NoBinding);
        nat.AssertDropped(Frames.Udp("0.0.0.0", "255.255.255.255", 68, 67, new byte[240]), DropReason.NoBinding, TranslateMode.FromVpc);
        Assert.Equal(default, nat.Counters.ForBinding(nat.IdA));
        Assert.Equal(default, nat.Counters.ForBinding(nat.IdB));
    }

    [Fact]
    public void LimitedBroadcast_WhileUnbindsLeaveTombstones_IsNeverTranslated()
    {
        // Churn until tombstones have covered most slots (a rebuild clears them, and the churn goes on), so that at
        // some point one lies on 255.255.255.255's probe path, whatever the hash.
        var nat = new Nat();
        byte[] broadcast = Frames.Udp(Internet, "255.255.255.255", 1, 2, [1]);
        byte[] fromUnspecified = Frames.Udp("0.0.0.0", Internet, 1, 2, [1]);
        for (uint i = 1; i <= 4000; i++)
        {
            nat.Table.Bind(0xCB007100 + i, 0x0A640000 + i);
            nat.Table.UnbindPublic(0xCB007100 + i);
            nat.AssertDropped(broadcast, DropReason.NoBinding);
            nat.AssertDropped(fromUnspecified, DropReason.NoBinding);
        }
        Assert.Equal(2, nat.Table.Count);
    }
}
